"""Scores and thresholds -> the checks an image fails, and what params say to do about each:
leave the curated dataset, stay flagged, or stay with its ink painted out (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from skinrisk.config import Params, QualityParams
from skinrisk.quality.records import ScoreRecord
from skinrisk.reasons import Reason


@dataclass(frozen=True)
class Expectations:
    """What every image is held to beyond quality's own thresholds: rules of other params
    sections, which the quality command passes in (the verdict cache's digest includes them)."""

    # max(quality.min_side_px, pack.image_size): a photo below the training input size would be
    # upsampled to it, and the model would learn from detail interpolation made up.
    min_side_px: int
    # Sources declared other than clinical (split.source_modality): their images need not look
    # clinical here; the split keeps them out of a clinical model's training.
    non_clinical_sources: frozenset[str] = frozenset()

    def clinical(self, source: str) -> bool:
        return source not in self.non_clinical_sources


def expectations(params: Params) -> Expectations:
    """The quality stage's Expectations from the params of the sections they come from."""
    return Expectations(
        min_side_px=max(params.quality.min_side_px, params.pack.image_size),
        non_clinical_sources=frozenset(source for source in params.split.source_modality
                                       if params.split.modality(source) != "clinical"))


def judge(scores: ScoreRecord, width: int, height: int, params: QualityParams, *,
          min_side_px: int | None = None, clinical: bool = True) -> list[tuple[Reason, str]]:
    """Every failed check with a detail naming the score and its threshold; [] means passed.

    ``min_side_px``: the resolution floor (Expectations.min_side_px; default quality's own);
    ``clinical``: the image's source is declared clinical, so it must look like a clinical photo.
    """
    if not scores.decodable:
        return [(Reason.UNREADABLE, f"does not decode ({scores.error})")]
    floor = params.min_side_px if min_side_px is None else min_side_px
    dermoscopic = scores.vignette > params.max_vignette or scores.bubbles > params.max_bubbles
    checks = [
        (min(width, height) < floor, Reason.LOW_RESOLUTION,
         f"short side {min(width, height)} px < {floor}"),
        (scores.sharpness < params.min_sharpness, Reason.BLUR,
         f"sharpness {scores.sharpness:.2f} < {params.min_sharpness}"),
        (scores.dark_fraction > params.max_dark_fraction, Reason.UNDEREXPOSED,
         f"dark fraction {scores.dark_fraction:.3f} > {params.max_dark_fraction}"),
        (scores.bright_fraction > params.max_bright_fraction, Reason.OVEREXPOSED,
         f"bright fraction {scores.bright_fraction:.3f} > {params.max_bright_fraction}"),
        (scores.skin_fraction < params.min_skin_fraction, Reason.BACKGROUND_DOMINANT,
         f"skin fraction {scores.skin_fraction:.3f} < {params.min_skin_fraction}"),
        (scores.dye_fraction > params.max_dye_fraction, Reason.DYE,
         f"dye fraction {scores.dye_fraction:.4f} > {params.max_dye_fraction}"),
        (scores.hair_fraction > params.max_hair_fraction, Reason.HAIR,
         f"hair fraction {scores.hair_fraction:.4f} > {params.max_hair_fraction}"),
        (scores.wet_fraction > params.max_wet_fraction, Reason.EXUDATE,
         f"wet fraction {scores.wet_fraction:.5f} > {params.max_wet_fraction}"),
        (params.block_faces and scores.faces > 0, Reason.FACE_VISIBLE,
         f"{scores.faces} face(s) found"),
        (clinical and dermoscopic, Reason.NOT_CLINICAL_PHOTO,
         f"dermoscopy cues: vignette {scores.vignette:.2f} (max {params.max_vignette}), "
         f"bubbles {scores.bubbles} (max {params.max_bubbles})"),
    ]
    return [(reason, detail) for failed, reason, detail in checks if failed]


@dataclass(frozen=True)
class Acted:
    """One image's failed checks sorted by what params say to do with them."""

    rejects: str  # ";"-joined codes that take it out of the curated set ("" = none)
    reject_detail: str
    flags: str  # ";"-joined codes it stays in the set with (named in the manifest)
    flag_detail: str
    inpaint: bool  # pack paints the ink out of its training copy


def act(codes: str, details: str, actions: Mapping[str, str]) -> Acted:
    """``codes``/``details``: a verdict of ``judge`` (";" / "; "-joined, aligned). A check not
    in ``actions`` rejects (QualityParams.actions lists only those that may do otherwise)."""
    if not codes:
        return Acted("", "", "", "", False)
    split = codes.split(";")
    # One code keeps its detail whole (an undecodable image's names the decoder's error).
    texts = details.split("; ") if len(split) > 1 else [details]
    pairs = [(c, texts[k] if k < len(texts) else "") for k, c in enumerate(split)]
    rejects = [(c, d) for c, d in pairs if actions.get(c, "reject") == "reject"]
    kept = [(c, d) for c, d in pairs if actions.get(c, "reject") != "reject"]
    return Acted(";".join(c for c, _ in rejects), "; ".join(d for _, d in rejects),
                 ";".join(c for c, _ in kept), "; ".join(d for _, d in kept),
                 any(actions.get(c) == "inpaint" for c, _ in kept))


def act_many(codes: Sequence[str], details: Sequence[str], actions: Mapping[str, str]
             ) -> list[Acted]:
    """``act`` over many verdicts, with the same results. A code set that goes one way whole
    (all reject, or all stay) and has one detail per code needs no splitting, so only the others
    go through ``act``: this runs over every failed image of the dataset on every run, and most
    verdicts are one or two codes of one kind."""
    kinds: dict[str, str] = {}
    out = []
    for code, text in zip(codes, details, strict=True):
        kind = kinds.get(code)
        if kind is None:
            wanted = {actions.get(c, "reject") == "reject" for c in code.split(";")}
            kind = kinds[code] = ("mixed" if len(wanted) > 1 else
                                  "reject" if wanted == {True} else "keep")
        if kind == "mixed" or text.count("; ") != code.count(";"):
            out.append(act(code, text, actions))
        elif kind == "reject":
            out.append(Acted(code, text, "", "", False))
        else:
            out.append(Acted("", "", code, text, any(
                actions.get(c) == "inpaint" for c in code.split(";"))))
    return out

