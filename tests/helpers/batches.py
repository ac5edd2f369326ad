"""Writing hospital batches for tests, the way a producer must (marker last), or not."""

from __future__ import annotations

from pathlib import Path

from skinrisk.batch import COLUMN_NAMES
from skinrisk.batch_marker import make_ready_marker

HEADER = ",".join(COLUMN_NAMES)


def manifest_row(name: str, patient: str = "MRN0001", lesion: str = "L1",
                 diagnosis: str = "MEL", fitzpatrick: str = "3", date: str = "2025-03-14",
                 source: str = "hospital-a", device: str = "Pixel 7") -> str:
    return ",".join([name, patient, lesion, diagnosis, "true", "back", fitzpatrick, "", date,
                     device, source])


def write_batch(landing: Path, batch_id: str, files: dict[str, bytes], rows: list[str],
                ready: bool = True) -> Path:
    folder = landing / batch_id
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = ("\n".join([HEADER, *rows]) + "\n").encode()
    (folder / "manifest.csv").write_bytes(manifest)
    if ready:
        (folder / "_READY").write_bytes(make_ready_marker(manifest, len(rows)))
    return folder
