"""Per-image verdicts and near-duplicate groups -> who is in the curated set (pure).

In order: a reviewer's override replaces the filter's verdict on its image; a group whose
photos carry diagnoses of different tumor types (or grades) loses every member not reviewed to
``conflicting_label`` — which copy is right is a question for a person, not for ingest order;
of the rest, the first photo of a group that passes is kept and later passing ones are
``near_duplicate``; an accepted override is kept whatever its group says. Rejected copies do not
count towards a conflict, so rejecting the wrongly labelled copy resolves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from skinrisk.quality.overrides import Override, apply_overrides
from skinrisk.reasons import Reason


@dataclass(frozen=True)
class Curated:
    """Aligned with the images given to ``curate``."""

    kept: np.ndarray  # bool: in the curated set
    repeat: np.ndarray  # bool: passed, but a later copy of a kept photo (near_duplicate)
    reasons: np.ndarray  # ";"-joined codes ("" for kept and repeats)
    details: np.ndarray  # "; "-joined details, one per code
    # Each override with what the filter alone decided for its image (codes; "" = kept).
    applied: list[tuple[Override, str]]


def curate(image_ids: np.ndarray, reasons: np.ndarray, details: np.ndarray, groups: np.ndarray,
           grades: np.ndarray, types: np.ndarray, overrides: Sequence[Override] = (),
           flags: np.ndarray | None = None) -> Curated:
    """``reasons``/``details``: the checks' verdicts (";"/"; "-joined, "" = passed); ``groups``:
    each image's group head id; ``grades``, ``types``: the resolved diagnosis (type None where
    the code names only a grade); ``flags``: how many checks each passing image is kept with
    (quality.actions flag/inpaint), so a group keeps its cleanest copy, the earliest of those."""
    reasons, details = reasons.astype(object), details.astype(object)
    labels = (groups, grades, types)
    flags = np.zeros(len(image_ids), np.int64) if flags is None else flags
    if not overrides:
        none = np.zeros(len(image_ids), dtype=bool)
        return Curated(*_decide(reasons, details, labels, none, none, flags), applied=[])
    # What the filter alone says, so that the ledger shows what each override overruled.
    unreviewed = curate(image_ids, reasons, details, *labels, flags=flags)
    said = np.where(unreviewed.repeat, Reason.NEAR_DUPLICATE.value, unreviewed.reasons)
    accepted, rejected, where = _apply(image_ids, reasons, details, overrides)
    applied = [(o, str(said[where[o.image_id]])) for o in overrides]
    return Curated(*_decide(reasons, details, labels, accepted, rejected, flags),
                   applied=applied)


def _decide(reasons: np.ndarray, details: np.ndarray, labels: tuple[np.ndarray, ...],
            accepted: np.ndarray, rejected: np.ndarray, flags: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """kept, repeat, reasons, details; ``reasons`` and ``details`` are updated in place."""
    groups, grades, types = labels
    conflict = label_conflicts(groups, grades, types, ignore=rejected) & ~accepted & ~rejected
    passed = (reasons == "") & ~conflict
    kept = accepted.copy()
    candidates = np.flatnonzero(passed)
    candidates = candidates[np.lexsort((candidates, flags[candidates]))]  # fewest flags first
    _, first = np.unique(groups[candidates], return_index=True)
    kept[candidates[first]] = True
    for i in np.flatnonzero(conflict):
        reasons[i] = ";".join(filter(None, [reasons[i], Reason.CONFLICTING_LABEL.value]))
        details[i] = "; ".join(filter(None, [details[i], _conflict_detail(
            groups == groups[i], grades, types, ~rejected)]))
    return kept, passed & ~kept, reasons, details


def label_conflicts(groups: np.ndarray, grades: np.ndarray, types: np.ndarray,
                    ignore: np.ndarray) -> np.ndarray:
    """Per image: whether its group's members (those not ``ignore``d) disagree on the grade, or
    name two different tumor types. A code without a type ("nevus") agrees with every type of
    its grade."""
    _, group_codes = np.unique(groups, return_inverse=True)
    count = int(group_codes.max()) + 1 if len(group_codes) else 0
    live = ~ignore
    typed = live & np.array([t is not None for t in types], dtype=bool)
    disagree = (_distinct(group_codes, grades, live, count) > 1) | (
        _distinct(group_codes, types, typed, count) > 1)
    return disagree[group_codes] if count else np.zeros(0, dtype=bool)


def _distinct(group_codes: np.ndarray, labels: np.ndarray, mask: np.ndarray, count: int
              ) -> np.ndarray:
    """How many different labels each group's masked members carry."""
    if not mask.any():
        return np.zeros(count, dtype=np.int64)
    _, label_codes = np.unique(labels[mask].astype(str), return_inverse=True)
    pairs = np.unique(np.stack([group_codes[mask], label_codes]), axis=1)
    return np.bincount(pairs[0], minlength=count)


def _conflict_detail(member: np.ndarray, grades: np.ndarray, types: np.ndarray,
                     live: np.ndarray) -> str:
    # Taxonomy keys and grades only: never the code a hospital sent.
    labels = sorted({t if t is not None else g for t, g in
                     zip(types[member & live], grades[member & live], strict=True)})
    return f"near-duplicates labelled {' vs '.join(labels)}"


def _apply(image_ids: np.ndarray, reasons: np.ndarray, details: np.ndarray,
           overrides: Sequence[Override]) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Overrides written into ``reasons``/``details`` in place; the accepted and rejected masks,
    and where each overridden image is."""
    accepted = np.zeros(len(image_ids), dtype=bool)
    rejected = np.zeros(len(image_ids), dtype=bool)
    wanted = {o.image_id for o in overrides}
    where = {i: k for k, i in enumerate(image_ids.tolist()) if i in wanted}
    before = {i: _verdict(reasons[k], details[k]) for i, k in where.items()}
    after = apply_overrides(before, overrides)
    for override in overrides:
        k = where[override.image_id]
        reasons[k] = ";".join(r.value for r, _ in after[override.image_id])
        details[k] = "; ".join(d for _, d in after[override.image_id])
        (accepted if override.decision == "accept" else rejected)[k] = True
    return accepted, rejected, where


def _verdict(codes: str, details: str) -> list[tuple[Reason, str]]:
    if not codes:
        return []
    texts = details.split("; ")
    return [(Reason(c), texts[k] if k < len(texts) else "") for k, c in
            enumerate(codes.split(";"))]
