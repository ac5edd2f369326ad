"""The model builder and the input pipeline (TensorFlow on CPU, tiny sizes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skinrisk.errors import SkinriskError
from skinrisk.training.model import build_model, resolve_weights
from tests.conftest import data_dir
from tests.integration.test_versioning import add_batch

pytestmark = pytest.mark.ml


def test_imagenet_weights_missing_fail_before_training_and_say_where(tmp_path: Path) -> None:
    with pytest.raises(SkinriskError, match=r"not found at .*xception\.h5.*train\.weights: none"):
        resolve_weights(str(tmp_path / "xception.h5"))
    with pytest.raises(SkinriskError, match="below Xception's minimum"):
        build_model(64)


def test_xception_with_a_three_grade_head_runs_on_cpu() -> None:
    model = build_model(71, weights="none", dropout=0.2)
    out = model.predict(np.random.default_rng(0).uniform(0, 255, (2, 71, 71, 3)), verbose=0)
    assert out.shape == (2, 3)
    assert np.allclose(out.sum(axis=1), 1, atol=1e-5)
    assert model.layers[-1].dtype_policy.compute_dtype == "float32"


@pytest.mark.slow
def test_the_input_pipeline_reads_the_packed_shards(tmp_path: Path, state_home: Path) -> None:
    from skinrisk.training.data import evaluation_dataset, shard_files, training_dataset

    add_batch(state_home, tmp_path / "landing", "b1", seed=13, images=30)
    files = shard_files(data_dir(state_home) / "shards", "train")
    assert files
    ids = [i.decode() for _, _, batch in evaluation_dataset(files, 96, 4)
           for i in batch.numpy()]
    keep = ids[: max(1, len(ids) // 2)]
    images, labels = 0, []
    for batch_images, batch_labels in training_dataset(files, keep, 96, 4, 0, 0, True):
        assert batch_images.shape[1:] == (96, 96, 3)
        assert float(batch_images.numpy().max()) <= 255.0
        images += batch_images.shape[0]
        labels += list(batch_labels.numpy())
    assert images == len(keep)  # only the listed images, each once per epoch
    assert set(labels) <= {0, 1, 2}
    again = [b.numpy() for b, _ in training_dataset(files, keep, 96, 4, 0, 0, True)]
    first = [b.numpy() for b, _ in training_dataset(files, keep, 96, 4, 0, 0, True)]
    assert all(np.array_equal(a, b) for a, b in zip(again, first, strict=True))  # (seed, epoch)
