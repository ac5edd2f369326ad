"""Quality calibration: precision and recall per check on the synthetic truth, and rejection
rates per reason on the real PAD-UFES-20 sample, at the thresholds in params.yaml.

`make calibrate` runs it and rewrites docs/quality-calibration.md; contact sheets of what PAD
loses to each reason go to $SKINRISK_HOME/calibration/ (the photos are CC BY 4.0; see
../shared/data/pad-ufes-20/ATTRIBUTION.md).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from pathlib import Path

import yaml

from skinrisk.config import QualityParams, SynthParams, parse_params
from skinrisk.layout import StateLayout
from skinrisk.localfs import atomic_write
from skinrisk.quality.decide import judge
from skinrisk.quality.runner import score_bytes
from skinrisk.quality.sheets import contact_sheet
from skinrisk.reasons import Reason
from skinrisk.synth.cohort import render_cohort
from skinrisk.synth.spec import Defect

REPO = Path(__file__).resolve().parents[1]
CHECKED = {Defect.BLUR: Reason.BLUR, Defect.DYE: Reason.DYE, Defect.HAIR: Reason.HAIR,
           Defect.TINY_LESION: Reason.BACKGROUND_DOMINANT, Defect.EXUDATE: Reason.EXUDATE}
SIZES = ((160, 120), (320, 240), (640, 480))


def synthetic(params: QualityParams, per_size: int) -> tuple[dict, dict]:
    """Per check: (precision, recall, positives) and, for dye, recall per dye kind."""
    outcomes = []
    for width, height in SIZES:
        cohort = SynthParams(images=per_size, width=width, height=height, seed=1000 + width,
                             defect_rates={d: 0.08 for d in CHECKED})
        for photo in render_cohort(cohort):
            verdict = {r for r, _ in judge(score_bytes("x", photo.data), width, height, params)}
            outcomes.append((set(photo.plan.defects), verdict, photo.dye))
    figures = {}
    for defect, reason in CHECKED.items():
        tp = sum(defect in t and reason in v for t, v, _ in outcomes)
        flagged = sum(reason in v for _, v, _ in outcomes)
        positives = sum(defect in t for t, _, _ in outcomes)
        figures[defect.value] = (tp / max(flagged, 1), tp / max(positives, 1), positives)
    dyes = {kind: (sum(Reason.DYE in v for t, v, d in outcomes if d == kind),
                   sum(1 for _, _, d in outcomes if d == kind))
            for kind in {d for _, _, d in outcomes if d}}
    return figures, dyes


def pad(params: QualityParams, pad_dir: Path, sheets: Path) -> tuple[int, Counter, int]:
    files = sorted((pad_dir / "images").glob("*.png"))
    reasons: Counter = Counter()
    rejected = 0
    examples: dict[str, list[tuple[bytes, str]]] = {}
    for path in files:
        data = path.read_bytes()
        from PIL import Image

        size = Image.open(path).size
        failed = judge(score_bytes(path.name, data), size[0], size[1], params)
        rejected += bool(failed)
        for reason, detail in failed:
            reasons[reason.value] += 1
            examples.setdefault(reason.value, []).append((data, detail))
    for reason, items in examples.items():
        atomic_write(sheets / f"pad-{reason}.png", contact_sheet(items[:36], f"PAD: {reason}"))
    return len(files), reasons, rejected


def main(per_size: int = 300) -> None:
    params = parse_params(yaml.safe_load((REPO / "params.yaml").read_text())).quality
    figures, dyes = synthetic(params, per_size)
    sheets = StateLayout.from_env().home / "calibration"
    total, reasons, rejected = pad(params, REPO.parent / "shared/data/pad-ufes-20", sheets)
    lines = [
        "# Quality calibration", "",
        f"Written by `make calibrate` (bench/calibrate_quality.py) on "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d}, at the thresholds in params.yaml `quality:`.", "",
        f"## Synthetic cohort ({per_size} photos at each of "
        f"{', '.join(f'{w}x{h}' for w, h in SIZES)}; each defect at rate 0.08, independently)",
        "", "| defect | check | precision | recall | positives |", "|---|---|---:|---:|---:|",
        *(f"| {d} | {CHECKED[Defect(d)].value} | {p:.3f} | {r:.3f} | {n} |"
          for d, (p, r, n) in figures.items()),
        "", "Dye recall by kind: " + ", ".join(f"{k} {hit}/{n}" for k, (hit, n) in
                                                sorted(dyes.items())), "",
        f"## PAD-UFES-20 sample ({total} real clinical photos)", "",
        f"Rejected by any check: {rejected} ({rejected / total:.1%}).", "",
        "| reason | photos | share |", "|---|---:|---:|",
        *(f"| {r} | {n} | {n / total:.1%} |" for r, n in sorted(reasons.items())),
        "", "Contact sheets per reason: `$SKINRISK_HOME/calibration/pad-<reason>.png`.", "",
    ]
    atomic_write(REPO / "docs" / "quality-calibration.md", "\n".join(lines).encode())
    print("\n".join(lines))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
