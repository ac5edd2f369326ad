"""Case 13: bad parameters are refused before any work, with the key named — by every stage
command that reads them, before a folder is created or a file is read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipelines.cli import main
from tests.conftest import REPO

BAD = [
    ({"train": {"learning_rate": -0.001}}, "train.learning_rate"),
    ({"train": {"optimizer": "adagrad-ish"}}, "train.optimizer"),
    ({"split": {"test_fraction": 1.5}}, "split.test_fraction"),
    ({"promote": {"floors": {"dangerous": 2}}}, "promote.floors.dangerous"),
    ({"trian": {"epochs": 3}}, "trian"),  # a typo'd section is an error, not ignored
]
STAGES = [["ingest"], ["quality"], ["validate"], ["split"], ["pack"], ["train"], ["evaluate"],
          ["promote"], ["retrain-check"]]


@pytest.mark.parametrize("section, key", BAD, ids=[k for _, k in BAD])
def test_bad_params_are_refused_by_every_stage_before_any_work(
        section: dict, key: str, tmp_path: Path, state_home: Path,
        capsys: pytest.CaptureFixture) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"extends": str(REPO / "params.yaml"), **section}))
    for stage in STAGES:
        assert main([*stage, "--params", str(params)]) == 1, stage
        err = capsys.readouterr().err.replace("\n", " ")
        assert key in err and "fix these keys" in err, (stage, err[-500:])
    assert not state_home.exists() or not any(state_home.iterdir())  # nothing was touched
