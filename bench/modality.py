"""The modality check on synthetic dermoscopy vs the real PAD-UFES-20 clinical photos.

`python -m bench.modality [--synthetic N] [--pad DIR]` prints, for the thresholds of params.yaml:
how many real clinical photos it flags (each by name: they are public research photos, not a
hospital's), recall on synthetic dermoscopy with and without the lens vignette, precision on
the pooled set, and the check's time per image on the working copy.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
from PIL import Image

from skinrisk.config import QualityParams
from skinrisk.quality.decode import load_working_image
from skinrisk.quality.modality import ModalityScores, score_modality
from skinrisk.synth.dermoscopy import render_dermoscopy

PAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "pad-ufes-20" / "images"
SIZES = ((640, 480), (1024, 768), (600, 600), (320, 240))


def flagged(scores: ModalityScores, params: QualityParams) -> bool:
    return scores.vignette > params.max_vignette or scores.bubbles > params.max_bubbles


def synthetic(count: int, vignette: bool) -> list[np.ndarray]:
    out = []
    for seed in range(count):
        pixels = render_dermoscopy(seed, SIZES[seed % len(SIZES)], vignette=vignette)
        sink = io.BytesIO()
        Image.fromarray(pixels).save(sink, "JPEG", quality=90)
        out.append(load_working_image(sink.getvalue()))
    return out


def measure(images: list[np.ndarray]) -> tuple[list[ModalityScores], float]:
    """Scores and seconds per image (grey conversion included)."""
    import cv2

    grays = [cv2.cvtColor(i, cv2.COLOR_RGB2GRAY) for i in images]
    start = time.perf_counter()
    scores = [score_modality(g) for g in grays]
    return scores, (time.perf_counter() - start) / max(len(images), 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=200)
    parser.add_argument("--pad", type=Path, default=PAD)
    args = parser.parse_args(argv)
    params = QualityParams()
    files = sorted(args.pad.iterdir())
    real, per_real = measure([load_working_image(f.read_bytes()) for f in files])
    false = [(f.name, s) for f, s in zip(files, real, strict=True) if flagged(s, params)]
    found = {}
    for vignette in (True, False):
        scores, per = measure(synthetic(args.synthetic, vignette))
        found[vignette] = (sum(flagged(s, params) for s in scores), per)
    true = found[True][0] + found[False][0]
    print(f"thresholds: vignette > {params.max_vignette}, bubbles > {params.max_bubbles}")
    print(f"PAD-UFES-20 clinical photos flagged: {len(false)} / {len(files)}")
    for name, s in false:
        print(f"  {name}: vignette {s.vignette:.2f}, bubbles {s.bubbles}")
    for vignette, (hits, _) in found.items():
        kind = "with lens vignette" if vignette else "full-frame (no vignette)"
        print(f"synthetic dermoscopy {kind}: recall {hits / args.synthetic:.3f} "
              f"({hits}/{args.synthetic})")
    print(f"recall, all synthetic dermoscopy: {true / (2 * args.synthetic):.3f}")
    print(f"precision (synthetic dermoscopy vs PAD): {true / max(true + len(false), 1):.3f}")
    print(f"time per image (working copy, both cues): PAD {per_real * 1000:.1f} ms, "
          f"synthetic {found[True][1] * 1000:.1f} / {found[False][1] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
