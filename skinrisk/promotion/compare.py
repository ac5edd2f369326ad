"""Challenger against champion on one test set: every paired criterion.

Both models are judged on the same images with one shared patient-level bootstrap draw, so a
difference's spread reflects only what differs between the models. The whole set is judged on
macro AUC (superiority), each grade's AUC and the dangerous grade's sensitivity at the
champion's operating threshold (non-inferiority); every slice on its macro AUC, on each of
`slice_grades` inside it (harm to the dangerous grade on dark skin must not average away into
a slice's macro AUC) and on that sensitivity. A figure is judged only on enough patients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skinrisk.config import PromoteParams
from skinrisk.evaluation.report import Predictions
from skinrisk.metrics import GRADES, patient_weights, youden
from skinrisk.promotion import criteria as cr
from skinrisk.promotion.criteria import FAIL, Criterion
from skinrisk.promotion.detectable import Detectable, Harm, detectable
from skinrisk.promotion.evidence import requirement, shortfall
from skinrisk.promotion.stats import paired_differences, paired_sensitivity

DANGEROUS = GRADES.index("dangerous")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Pair:
    """One test set's paired predictions and the bootstrap draw both models share."""

    name: str
    truth: np.ndarray
    patients: np.ndarray
    champion: np.ndarray
    challenger: np.ndarray
    weights: np.ndarray
    threshold: float  # the champion's Youden cut-off for the dangerous grade on this set


def compare(
    name: str,
    mine: Predictions,
    theirs: Predictions | None,
    params: PromoteParams,
    alpha: float,
    number: int,
) -> tuple[list[Criterion], Detectable | None]:
    if theirs is None or sorted(theirs.image_ids) != sorted(mine.image_ids):
        return [
            Criterion(
                "evidence",
                name,
                "paired predictions",
                None,
                None,
                "both models predicted on the same images",
                FAIL,
                n=len(mine),
            )
        ], None
    order = {image_id: i for i, image_id in enumerate(theirs.image_ids)}
    champion = theirs.probabilities[[order[i] for i in mine.image_ids]]
    pair = Pair(
        name,
        mine.truth,
        mine.patients,
        champion,
        mine.probabilities,
        patient_weights(mine.patients, params.bootstrap_resamples, params.seed),
        youden(mine.truth == DANGEROUS, champion[:, DANGEROUS]).threshold,
    )
    everything = np.ones(len(mine), bool)
    diffs = paired_differences(pair.truth, pair.champion, pair.challenger, pair.weights)
    n, patients = len(mine), len(set(mine.patients.tolist()))
    out = [cr.superiority(name, diffs["macro"], alpha, params.min_delta, n, patients, number)]
    out += [
        cr.non_inferior(
            name,
            f"AUC {g}",
            diffs[g],
            params.non_inferiority_alpha,
            params.non_inferiority_margin,
            n,
            patients,
        )
        for g in GRADES
    ]
    out.append(_sensitivity(pair, everything, "", params))
    harms: list[Harm] = []
    for slice_name in params.slices:
        values = mine.slices[slice_name]
        for value in sorted(set(values.tolist())):
            judged, seen = _slice(pair, values == value, f", {slice_name} {value}", params)
            if value == UNKNOWN and params.unknown_slice == "report":
                judged, seen = [c.reported() for c in judged], []
            out += judged
            harms += seen
    return out, detectable(name, diffs["macro"], alpha, params.min_delta, harms)


def _slice(
    pair: Pair, columns: np.ndarray, label: str, params: PromoteParams
) -> tuple[list[Criterion], list[Harm]]:
    """Macro AUC, each of `slice_grades` and the dangerous sensitivity inside one slice; and
    the AUC figures judged, for the detectable-effect line."""
    out, harms = [], []
    sliced = None
    for grades, figure, margin in (
        (GRADES, "macro AUC", params.non_inferiority_margin),
        *(((g,), f"AUC {g}", params.slice_grade_margin) for g in params.slice_grades),
    ):
        short = _short(pair, columns, grades, params)
        if short:
            out.append(short(figure + label))
            continue
        if sliced is None:
            sliced = paired_differences(
                pair.truth, pair.champion, pair.challenger, pair.weights, columns
            )
        key = "macro" if figure == "macro AUC" else grades[0]
        harms.append(Harm(figure + label, sliced[key], params.non_inferiority_alpha, margin))
        out.append(
            cr.non_inferior(
                pair.name,
                figure + label,
                sliced[key],
                params.non_inferiority_alpha,
                margin,
                int(columns.sum()),
                _patients(pair, columns),
            )
        )
    short = _short(pair, columns, ("dangerous",), params)
    out.append(
        short(f"sensitivity dangerous at the champion's threshold{label}")
        if short
        else _sensitivity(pair, columns, label, params)
    )
    return out, harms


def _short(pair: Pair, columns: np.ndarray, grades: tuple[str, ...], params: PromoteParams):
    """None when the slice holds enough patients for ``grades``; else a maker of the
    "insufficient evidence" criterion for a figure."""
    minimum = params.min_n.slice
    short = shortfall(pair.truth[columns], pair.patients[columns], grades, minimum)
    if not short:
        return None
    return lambda figure: cr.insufficient(
        pair.name,
        "non-inferiority",
        figure,
        requirement(grades, minimum),
        short,
        int(columns.sum()),
        _patients(pair, columns),
    )


def _sensitivity(pair: Pair, columns: np.ndarray, label: str, params: PromoteParams) -> Criterion:
    diff = paired_sensitivity(
        (pair.truth == DANGEROUS)[columns],
        pair.champion[columns, DANGEROUS],
        pair.challenger[columns, DANGEROUS],
        pair.threshold,
        pair.weights[:, columns],
    )
    return cr.non_inferior(
        pair.name,
        f"sensitivity dangerous at the champion's threshold {pair.threshold:.3f}{label}",
        diff,
        params.non_inferiority_alpha,
        params.slice_sensitivity_margin if label else params.sensitivity_margin,
        int(columns.sum()),
        _patients(pair, columns),
    )


def _patients(pair: Pair, columns: np.ndarray) -> int:
    return len(set(pair.patients[columns].tolist()))
