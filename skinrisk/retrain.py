"""Whether a new dataset version is worth a training run: new training images since the
champion's data version, against `retrain.min_new_images`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RetrainCheck:
    retrain: bool
    new_images: int | None  # None: no champion to compare with
    current_version: str
    champion_version: str | None
    why: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check(current_version: str, current_train: int, champion_version: str | None,
          champion_train: int | None, min_new: int, already_trained: str | None = None
          ) -> RetrainCheck:
    """``already_trained``: a registered model version trained on the current data version
    (a rejected challenger is not retrained on the same data every run)."""
    if already_trained is not None:
        return RetrainCheck(False, None, current_version, champion_version,
                            f"model version {already_trained} was already trained on "
                            f"{current_version}")
    if champion_version is None or champion_train is None:
        # The first model needs as many training images as a retrain needs new ones: a
        # dataset of only quarantined photos (an all-bad first batch) trains nothing.
        enough = current_train >= min_new
        return RetrainCheck(enough, None, current_version, None,
                            f"no champion yet: {current_train} training images "
                            f"({'>=' if enough else '<'} retrain.min_new_images {min_new})" + (
                                ": train the first model" if enough else ""))
    new = current_train - champion_train
    enough = new >= min_new
    return RetrainCheck(enough, new, current_version, champion_version,
                        f"{new} training images since the champion's {champion_version} "
                        f"({'>=' if enough else '<'} retrain.min_new_images {min_new})")
