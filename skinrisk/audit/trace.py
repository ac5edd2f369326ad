"""Pure pieces of a trace: who is in which set, counted the ways an auditor slices them, and
the cross-checks that make a trace evidence rather than a story."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from skinrisk.ledger import Event

FITZPATRICK = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI"}


@dataclass(frozen=True)
class Check:
    """One cross-check of the trace: two independent records that must agree."""

    what: str
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def skin_type(value: Any) -> str:
    try:
        return FITZPATRICK.get(int(value), "unknown")
    except (TypeError, ValueError):
        return "unknown"


def composition(ids: Iterable[str], rows: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Counts of a set of images per grade, source and Fitzpatrick type, and its patients."""
    members = [rows[i] for i in ids if i in rows]
    return {"images": len(members),
            "patients": len({r["patient"] for r in members}),
            "by_grade": _sorted(Counter(str(r["grade"]) for r in members)),
            "by_source": _sorted(Counter(str(r["source"]) for r in members)),
            "by_fitzpatrick": _sorted(Counter(skin_type(r.get("fitzpatrick"))
                                              for r in members))}


def _sorted(counter: Counter) -> dict[str, int]:
    return dict(sorted(counter.items()))


def membership_check(what: str, ids: Iterable[str], split_of: Mapping[str, str],
                     expected: set[str]) -> Check:
    """Every image of a set is, at the data version, in one of the splits it may come from."""
    ids = list(ids)
    wrong = [i for i in ids if split_of.get(i) not in expected]
    if not ids:
        return Check(what, False, "the set is empty")
    if wrong:
        return Check(what, False, f"{len(wrong)} of {len(ids)} images are not in split "
                     f"{'/'.join(sorted(expected))} at this data version (first: {wrong[0]})")
    return Check(what, True, f"{len(ids)} images, all in split {'/'.join(sorted(expected))}")


def equal_check(what: str, recorded: Any, found: Any) -> Check:
    if recorded is None:
        return Check(what, False, "nothing was recorded to compare with")
    if isinstance(recorded, Mapping) and isinstance(found, Mapping):
        differ = sorted(k for k in {*recorded, *found} if recorded.get(k) != found.get(k))
        if not differ:
            return Check(what, True, f"{len(recorded)} entries agree")
        return Check(what, False, f"{len(differ)} differ: " + "; ".join(
            f"{k}: recorded {recorded.get(k)}, found {found.get(k)}" for k in differ[:3]))
    if recorded == found:
        return Check(what, True, f"{_short(found)}")
    return Check(what, False, f"recorded {_short(recorded)}, found {_short(found)}")


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def entry_ref(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A ledger entry as cited in a trace: where it is, when, who, what."""
    return {"seq": entry["seq"], "at": entry["at"], "event": entry["event"], "by": entry["by"],
            "hash": entry["hash"], "data": entry["data"]}


def related_entries(entries: Iterable[Mapping[str, Any]], run_id: str, model_version: str,
                    data_version: str, batches: set[str]) -> list[dict[str, Any]]:
    """The ledger entries that concern one model: its data's batches and version, its run,
    its evaluations (external ones too), every gate decision and rollback it took part in."""
    chosen = []
    for entry in entries:
        data, event = entry.get("data", {}), entry.get("event")
        concerns = (
            (event in (Event.BATCH_INGESTED, Event.VALIDATION) and data.get("batch_id") in batches)
            or (event == Event.DATASET_VERSION and data.get("tag") == data_version)
            or (event in (Event.TRAINING_RUN, Event.EVALUATION) and data.get("run_id") == run_id)
            or (event == Event.EXTERNAL_EVALUATION and data.get("model_run_id") == run_id)
            or (event == Event.GATE_DECISION and model_version in (
                str((data.get("challenger") or {}).get("version")),
                str((data.get("champion") or {}).get("version"))))
            or (event == Event.ALIAS_MOVED and model_version in (str(data.get("from")),
                                                             str(data.get("to"))))
            or (event == Event.ROLLBACK and model_version in (str(data.get("rolled_back")),
                                                          str(data.get("restored")))))
        if concerns:
            chosen.append(entry_ref(entry))
    return chosen
