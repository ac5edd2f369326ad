"""When a new dataset version is worth a training run."""

from skinrisk.retrain import check


def test_the_first_model_trains_once_there_are_enough_training_images() -> None:
    result = check("data-v1", 100, None, None, 50)
    assert result.retrain and "no champion" in result.why
    empty = check("data-v1", 0, None, None, 50)  # e.g. a first batch that was all bad
    assert not empty.retrain and "0 training images (< retrain.min_new_images 50)" in empty.why


def test_enough_new_training_images_since_the_champions_version() -> None:
    assert check("data-v3", 180, "data-v1", 100, 50).retrain
    few = check("data-v3", 120, "data-v1", 100, 50)
    assert not few.retrain and few.new_images == 20 and "< retrain.min_new_images 50" in few.why


def test_a_version_already_trained_on_is_not_trained_again() -> None:
    result = check("data-v2", 500, "data-v1", 100, 50, already_trained="2")
    assert not result.retrain and "already trained on data-v2" in result.why
