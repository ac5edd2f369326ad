"""The one way an image is turned away: a reason code and a detail safe to log."""

from __future__ import annotations

from skinrisk.errors import SkinriskError
from skinrisk.reasons import Reason


class ImageRejected(SkinriskError):
    """An image that cannot enter the dataset. ``detail`` never contains names or identifiers."""

    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}")
