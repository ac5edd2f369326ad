"""The training record: typed in code, the same JSON on disk (done.json, train.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skinrisk.errors import SkinriskError
from skinrisk.training.runs import TrainingRecord

RECORD = TrainingRecord(
    run_id="r1", model_uri="models:/m-1", run_key="0123456789abcdef", data_version="data-v1",
    data_commit="c0ffee", shards_md5="s.dir", splits_md5="p.dir", image_size=71, best_epoch=2,
    best_val_macro_auc=None, resumed_at_epoch=1,
    code={"code.commit": "abc123", "code.dirty": "False"})


def test_the_json_keeps_the_field_order_and_flat_code_keys(tmp_path: Path) -> None:
    data = RECORD.to_json()
    assert list(data) == ["run_id", "model_uri", "run_key", "data_version", "data_commit",
                          "shards_md5", "splits_md5", "image_size", "best_epoch",
                          "best_val_macro_auc", "resumed_at_epoch", "code.commit", "code.dirty"]
    # done.json carries the checkpoint's name beside the record; reading ignores it.
    done = tmp_path / "done.json"
    done.write_text(json.dumps({**data, "best_model": "best.keras"}))
    assert TrainingRecord.read(done) == RECORD


def test_a_file_that_is_no_training_record_is_named_with_what_it_lacks(tmp_path: Path) -> None:
    broken = tmp_path / "train.json"
    broken.write_text(json.dumps({k: v for k, v in RECORD.to_json().items()
                                  if k != "image_size"}))
    with pytest.raises(SkinriskError, match=r"train\.json: not a training record \(no "
                                            r"image_size\)"):
        TrainingRecord.read(broken)
