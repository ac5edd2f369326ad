"""dvc.yaml and skinrisk/catalog.py name the same data files: each stage's outputs and
metrics, and every data file a stage depends on."""

from __future__ import annotations

import yaml

from skinrisk import catalog
from tests.conftest import REPO


def _paths(entries: list) -> tuple[str, ...]:
    """dvc.yaml's list entries: a path, or {path: options}."""
    return tuple(next(iter(e)) if isinstance(e, dict) else e for e in entries or ())


def test_every_stage_declares_the_outputs_the_catalog_names() -> None:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert set(stages) == set(catalog.STAGE_OUTPUTS)
    for name, stage in stages.items():
        declared = (_paths(stage.get("outs")), _paths(stage.get("metrics")))
        assert declared == catalog.STAGE_OUTPUTS[name], name


def test_every_data_file_a_stage_reads_is_in_the_catalog() -> None:
    named = {value for key, value in vars(catalog).items()
             if key.isupper() and isinstance(value, str) and value.startswith("data/")}
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        data = [d for d in _paths(stage.get("deps")) if d.startswith("data/")]
        assert set(data) <= named, (name, sorted(set(data) - named))
