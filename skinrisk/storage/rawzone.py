"""The raw zone: de-identified images by content, and one committed record per ingested batch.

    raw/<batch>/images/<id>.<jpg|png>        content-addressed, written once, never changed
    raw/<batch>/images.parquet               the accepted images (records.ImageRecord)
    raw/<batch>/quarantine.parquet           the refused rows and files (records.QuarantineRecord)
    raw/<batch>/report.json                  written last: the batch is ingested iff it exists
    quarantine/<batch>/<quarantine id>.<ext> the refused files, kept as received (not versioned)

The quarantine is a private zone (skinrisk.permissions): its folders are 0700 and its files 0600,
whatever the umask, since a file kept as received may carry a patient identifier; the first
quarantine write of a RawZone refuses a zone that is open to others.

One folder per batch, so DVC versions each batch as one immutable entry (an image is accepted
in one batch only: a repeat is quarantined as duplicate_image).

A killed ingest leaves at most image files no committed batch refers to: invisible, and
rewritten identically by the rerun. Readers only ever see committed batches.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from skinrisk.catalog import RAW_IMAGES, RAW_QUARANTINE, RAW_REPORT
from skinrisk.localfs import atomic_write, write_json
from skinrisk.permissions import make_private_dir, require_private, tighten_files
from skinrisk.storage.rawrecords import ImageRecord, QuarantineRecord
from skinrisk.storage.tables import read_table, write_table

SUFFIX = {"jpeg": ".jpg", "png": ".png"}


class RawZone:
    def __init__(self, root: Path, quarantine_root: Path) -> None:
        self.root = root
        self.quarantine_root = quarantine_root
        self._quarantine_checked = False

    def batch_dir(self, batch_id: str) -> Path:
        return self.root / batch_id

    def report(self, batch_id: str) -> dict[str, Any] | None:
        path = self.batch_dir(batch_id) / RAW_REPORT
        return json.loads(path.read_text()) if path.is_file() else None

    def committed_batches(self) -> list[str]:
        return sorted(p.parent.name for p in self.root.glob(f"*/{RAW_REPORT}"))

    def batches_in_ingest_order(self) -> list[str]:
        """Committed batches, oldest first: the order near-duplicates and baselines follow."""
        return sorted(self.committed_batches(),
                      key=lambda b: (self.report(b)["ingested_at"], b))  # type: ignore[index]

    def image_path(self, batch_id: str, image_id: str, fmt: str) -> Path:
        return self.batch_dir(batch_id) / "images" / f"{image_id}{SUFFIX[fmt]}"

    def store_image(self, batch_id: str, image_id: str, fmt: str, data: bytes) -> None:
        path = self.image_path(batch_id, image_id, fmt)
        # Same content, same name: an intact file from an earlier (perhaps killed) run is kept.
        if path.is_file() and path.stat().st_size == len(data):
            return
        atomic_write(path, data, durable=False)

    def keep_quarantined(self, batch_id: str, quarantine_id: str, suffix: str,
                         data: bytes) -> str:
        target, relative = self.quarantine_target(batch_id, quarantine_id, suffix)
        atomic_write(target, data, durable=False)  # mkstemp: 0600 from creation
        return relative

    def quarantine_target(self, batch_id: str, quarantine_id: str, suffix: str
                          ) -> tuple[Path, str]:
        """Where to keep a refused file; its folder exists, private, when this returns."""
        folder = self._quarantine_folder(batch_id)
        return folder / f"{quarantine_id}{suffix}", f"{batch_id}/{quarantine_id}{suffix}"

    def _quarantine_folder(self, batch_id: str) -> Path:
        if not self._quarantine_checked:  # once per run: the walk reads every kept file
            make_private_dir(self.quarantine_root)
            require_private(self.quarantine_root)
            self._quarantine_checked = True
        folder = self.quarantine_root / batch_id
        make_private_dir(folder)  # before a writer's mkdir(parents=True) makes it 0755
        return folder

    def known_images(self) -> dict[str, str]:
        """image_id -> surrogate patient, over every committed batch."""
        known: dict[str, str] = {}
        for batch_id in self.committed_batches():
            table = read_table(self.batch_dir(batch_id) / RAW_IMAGES, ["image_id", "patient"])
            known.update(zip(table["image_id"], table["patient"], strict=True))
        return known

    def commit(self, batch_id: str, accepted: list[ImageRecord],
               quarantined: list[QuarantineRecord], report: dict[str, Any]) -> None:
        # Belt and braces: a BatchReader.copy_to (quarantine_target) that made its file under
        # the umask is published 0600 all the same (no one else could reach it in its 0700
        # folder meanwhile).
        tighten_files(self.quarantine_root / batch_id)
        os.sync()  # every image and quarantined file reaches the disk before anything names it
        folder = self.batch_dir(batch_id)
        write_table(folder / RAW_IMAGES, accepted, ImageRecord)
        write_table(folder / RAW_QUARANTINE, quarantined, QuarantineRecord)
        write_json(folder / RAW_REPORT, report, sort_keys=True)
