"""The reliability suite's shared state: one tiny cohort, snapshotted at stage boundaries.

Each scenario copies a snapshot and breaks the copy. Copies are taken before the workspace is a
git clone (whose remotes name absolute paths), or, after evaluate, share only the read-only
model artifacts (MLflow stores their absolute location).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.helpers.crash import run_skinrisk


def ok(home: Path, *args: str, extra: dict[str, str] | None = None) -> str:
    result = run_skinrisk(home, list(args), extra=extra)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def snapshot(home: Path, to: Path) -> Path:
    shutil.copytree(home, to, symlinks=True)
    return to


def copy_stage(stages: dict[str, Path], name: str, to: Path) -> Path:
    return snapshot(stages[name], to)


@pytest.fixture(scope="session")
def stages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Snapshots of one cohort's state: after ingest, after pack, after evaluate."""
    root = tmp_path_factory.mktemp("stages")
    params = root / "params.yaml"
    params.write_text(yaml.safe_dump({
        "extends": str(REPO / "params-small.yaml"),
        # Every grade in every test set whatever the (random) surrogate ids split: a test set
        # without a grade makes the gate fail closed. Two types per grade, so a lesion is of
        # each grade a third of the time (with all ten, dangerous is a fifth: ~19 held-out
        # images, ~10 lesions, missed a grade in about one build in ten), and enough lesions
        # that all three are there but about once in a thousand builds.
        "synth": {"images": 320, "difficulty": 0.0, "sources": ["hospital-a", "hospital-b"],
                  "tumor_types": ["intradermal_nevus", "lipoma", "basal_cell_carcinoma",
                                  "actinic_keratosis", "malignant_melanoma",
                                  "squamous_cell_carcinoma"]},
        "split": {"test_fraction": 0.4},
        "train": {"epochs": 1, "max_images": 40, "image_size": 71},
        "evaluate": {"bootstrap_resamples": 200},
        "promote": {"floors": {"macro": 0, "low-risk": 0, "high-risk": 0, "dangerous": 0},
                    "insufficient_evidence": "allow"},
    }))
    p = ["--params", str(params)]
    home = root / "build"
    ok(home, "synth", "--out", str(root / "landing" / "b1"), "--truth", str(root / "t.csv"),
       *p)
    ok(home, "ingest", "--landing", str(root / "landing"), *p)
    snapshots = {"params": params, "landing": root / "landing" / "b1"}
    snapshots["ingested"] = snapshot(home, root / "ingested")
    for stage in ("quality", "validate", "split", "pack"):
        ok(home, stage, *p)
    snapshots["packed"] = snapshot(home, root / "packed")
    ok(home, "version")
    for stage in ("train", "evaluate"):
        ok(home, stage, *p)
    snapshots["evaluated"] = home
    return snapshots
