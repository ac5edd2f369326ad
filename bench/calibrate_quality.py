"""Quality calibration: every check against real photos labelled by eye, and against the
synthetic truth, at the thresholds in params.yaml.

`make calibrate` runs it and rewrites docs/quality-calibration.md:
- the PAD-UFES-20 sample (516 real clinical photos) against docs/quality-labels.csv (labelled by
  eye, docs/quality-labelling.md): precision and recall per check with Wilson 95% intervals,
  and the rejection rate by risk grade and diagnosis, with Fisher's exact test per grade;
- the synthetic cohort's planted defects, as before (plumbing, not correctness).
Scores of the PAD photos are cached in $SKINRISK_HOME/calibration/ by file content and the code
of the checks, so trying thresholds costs seconds. Contact sheets of what PAD loses to each
reason go there too (the photos are CC BY 4.0; ../shared/data/pad-ufes-20/ATTRIBUTION.md).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import yaml

from bench.calibration import (
    acting,
    grade_rates,
    label_figures,
    load_labels,
    pad_grades,
    prevalence,
    rate_gap,
    review_evidence,
    score_pad,
)
from skinrisk.config import QualityParams, SynthParams, parse_params
from skinrisk.defects import Defect
from skinrisk.layout import StateLayout
from skinrisk.localfs import atomic_write
from skinrisk.quality.decide import judge
from skinrisk.quality.runner import score_bytes
from skinrisk.quality.sheets import contact_sheet
from skinrisk.reasons import Reason
from skinrisk.synth.cohort import render_cohort

REPO = Path(__file__).resolve().parents[1]
PAD = REPO.parent / "shared/data/pad-ufes-20"
LABELS = REPO / "docs" / "quality-labels.csv"
CHECKED = {Defect.BLUR: Reason.BLUR, Defect.DYE: Reason.DYE, Defect.HAIR: Reason.HAIR,
           Defect.TINY_LESION: Reason.BACKGROUND_DOMINANT, Defect.EXUDATE: Reason.EXUDATE}
SIZES = ((160, 120), (320, 240), (640, 480))


def synthetic(params: QualityParams, per_size: int) -> dict[str, tuple[float, float, int]]:
    """Per planted defect: (precision, recall, positives) of its check."""
    outcomes = []
    for width, height in SIZES:
        cohort = SynthParams(images=per_size, width=width, height=height, seed=1000 + width,
                             defect_rates={d: 0.08 for d in CHECKED})
        for photo in render_cohort(cohort):
            verdict = {r for r, _ in judge(score_bytes("x", photo.data), width, height, params)}
            outcomes.append((set(photo.plan.defects), verdict))
    figures = {}
    for defect, reason in CHECKED.items():
        tp = sum(defect in t and reason in v for t, v in outcomes)
        flagged = sum(reason in v for _, v in outcomes)
        positives = sum(defect in t for t, _ in outcomes)
        figures[defect.value] = (tp / max(flagged, 1), tp / max(positives, 1), positives)
    return figures


def _pad_verdicts(params: QualityParams, home: Path) -> dict[str, list[tuple[Reason, str]]]:
    scored = score_pad(PAD / "images", home / "calibration" / "pad-scores.json")
    return {name: judge(scores, w, h, params) for name, (scores, w, h) in scored.items()}


def _sheets(verdicts: dict[str, list[tuple[Reason, str]]], out: Path) -> None:
    by_reason: dict[str, list[tuple[bytes, str]]] = {}
    for name, failed in sorted(verdicts.items()):
        for reason, detail in failed:
            items = by_reason.setdefault(reason.value, [])
            if len(items) < 36:
                items.append(((PAD / "images" / name).read_bytes(), detail))
    for reason, items in by_reason.items():
        atomic_write(out / f"pad-{reason}.png", contact_sheet(items, f"PAD: {reason}"))


def pad_section(params: QualityParams, home: Path) -> list[str]:
    verdicts = _pad_verdicts(params, home)
    _sheets(verdicts, home / "calibration")
    labels = load_labels(LABELS, PAD / "images")
    lines = [f"## PAD-UFES-20 sample ({len(verdicts)} real clinical photos) against labels by eye",
             "", f"Labels: `docs/quality-labels.csv` ({len(labels)} photos; rules and method in "
             "docs/quality-labelling.md). Intervals: Wilson 95%.", "",
             "| check | label | positives | flagged | TP | precision (95% CI) | recall (95% CI) |",
             "|---|---|---:|---:|---:|---|---|"]
    for row in label_figures(labels, verdicts):
        lines.append("| {reason} | {label} | {positives} | {flagged} | {tp} | {precision} | "
                     "{recall} |".format(**row))
    grades, diagnoses = pad_grades(PAD / "metadata.csv")
    lines += ["", "## Actions", "",
              'A check rejects (quality.actions) only where it is right on these real photos and '
              'its defect is not tied to a risk grade. Hair (precision about 0.7: strands beside '
              'the lesion count too), exudate (no wet lesion among the low-risk photos, so '
              'removing wet photos removes carcinomas) and background_dominant (no real small site '
              'to measure it on) flag: the photo stays, named in'
              " the manifest's `quality_flags` and on the review pages (`kept_<check>.html`), where"
              " a reviewer's accept clears the flag and a reject stands over it. Marker ink is "
              'drawn around the lesions a clinician suspects, so it is about three times commoner '
              'on high-risk photos than on low-risk ones (below): removing inked photos removes '
              'malignant lesions, keeping them teaches a model that ink means cancer. So dye '
              'inpaints: pack paints the lines out of the training copies '
              '(skinrisk/packing/inpaint.py); the test sets and the raw photo are untouched.', "",
              "### Defects by risk grade, by eye", "",
              "The share of each grade's photos labelled with a defect. Where a defect is much "
              "commoner in one grade, a check that removes it cannot keep rejection independent "
              "of grade, however right it is: those checks must act otherwise (flag, inpaint).",
              "", "| grade | photos | ink | hair | exudate | blur |",
              "|---|---:|---:|---:|---:|---:|"]
    for row in prevalence(labels, grades, ("ink", "hair", "exudate", "blur")):
        lines.append("| {group} | {n} | {ink:.1%} | {hair:.1%} | {exudate:.1%} | {blur:.1%} |"
                     .format(**row))
    policy = acting(verdicts, params.actions)
    actions = ", ".join(f"{check} {action}" for check, action in params.actions.items())
    lines += ["", "### Rejection rate by risk grade under quality.actions", "",
              f"Actions: {actions}; every other check rejects. Fisher's exact test: the grade "
              "vs the rest.", "", *_rates(policy, grades, "grade"), "",
              *_rates(policy, diagnoses, "diagnosis"), "",
              "### Rejection rate by risk grade if every check rejected", "",
              *_rates(verdicts, grades, "grade"), "",
              *_rates(verdicts, diagnoses, "diagnosis")]
    return [*lines, "", "Contact sheets per reason: `$SKINRISK_HOME/calibration/"
            "pad-<reason>.png`.", ""]


def _rates(verdicts: dict[str, list[tuple[Reason, str]]], groups: dict[str, str], name: str
           ) -> list[str]:
    rows = grade_rates(verdicts, groups)
    graded = [n for n in verdicts if n in groups]
    rejected = sum(bool(verdicts[n]) for n in graded)
    return [f"Rejected: {rejected} of {len(graded)} ({rejected / len(graded):.1%}); highest "
            f"{name} rate {rate_gap(rows):.1f} points above the lowest.", "",
            f"| {name} | photos | rejected | rate | p |", "|---|---:|---:|---:|---:|",
            *("| {group} | {n} | {rejected} | {rate:.1%} | {p:.3f} |".format(**row)
              for row in rows)]


def review_section(home: Path) -> list[str]:
    """A reviewer's overrides, as the ledger under $SKINRISK_HOME recorded them with what the
    filter had said: evidence beyond the labelled set."""
    from skinrisk import ledger

    head = ["## Reviewer decisions (quality.overrides_path)", ""]
    path = ledger.ledger_path(StateLayout(home))
    events = [e["data"] for e in (ledger.entries(path) if path.is_file() else [])
              if e["event"] == "quality_override"]
    if not events:
        return [*head, f"No reviewer decisions in the ledger under {home} yet.", ""]
    rows = review_evidence(events)
    return [*head, f"{len(events)} decisions recorded. Upheld: rejected for a check the filter "
            "gave (a rejection confirmed, or a flag a reviewer thought should reject); "
            "overturned: accepted although the filter gave the check; missed: rejected for a "
            "check the filter did not give. Reviewers write where they disagree or confirm a "
            "flag, so these are counts, not a precision.", "",
            "| check | upheld | overturned | missed |", "|---|---:|---:|---:|",
            *(f"| {r['reason']} | {r['upheld']} | {r['overturned']} | {r['missed']} |"
              for r in rows), ""]


def main(per_size: int = 300) -> None:
    params = parse_params(yaml.safe_load((REPO / "params.yaml").read_text())).quality
    home = StateLayout.from_env().home
    lines = [
        "# Quality calibration", "",
        f"Written by `make calibrate` (bench/calibrate_quality.py) on "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d}, at the thresholds in params.yaml `quality:`.", "",
        *pad_section(params, home), *review_section(home)]
    if per_size:
        figures = synthetic(params, per_size)
        lines += [f"## Synthetic cohort ({per_size} photos at each of "
                  f"{', '.join(f'{w}x{h}' for w, h in SIZES)}; each defect at rate 0.08)", "",
                  "Plumbing only: synthetic defects say whether a check runs, not whether it is "
                  "right on real photos.", "",
                  "| defect | check | precision | recall | positives |", "|---|---|---:|---:|---:|",
                  *(f"| {d} | {CHECKED[Defect(d)].value} | {p:.3f} | {r:.3f} | {n} |"
                    for d, (p, r, n) in figures.items()), ""]
    atomic_write(REPO / "docs" / "quality-calibration.md", "\n".join(lines).encode())
    print("\n".join(lines))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
