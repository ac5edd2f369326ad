"""Planted identifiers (canaries) for the privacy tests: in every column, on every path."""

from __future__ import annotations

from skinrisk.batch import COLUMN_NAMES
from tests.helpers import images
from tests.helpers.batches import manifest_row


def canary(n: int) -> str:
    return f"Cnry{n:03d}Zq"


def hostile_rows(photos: list[bytes]) -> tuple[dict[str, bytes], list[str]]:
    """Accepted rows carrying canaries where ingest keeps them private (ids, file names,
    device), rejected rows carrying them in every other column. ``photos``: synthetic lesion
    photos, so that the accepted ones pass quality and reach TFDV, the splits and DVC."""
    files, rows = {}, []
    for n in range(6):  # accepted: ids and file names go to the private store only
        name = f"images/{canary(n)}_{n}.jpg"
        files[name] = photos[n]
        rows.append(manifest_row(name, patient=f"MRN {canary(10 + n)}", lesion=canary(20 + n),
                                 device=f"Dr. {canary(30 + n)}'s iPhone"))
    bad = {"diagnosis": 40, "body_site": 41, "fitzpatrick": 42, "ethnicity": 43,
           "capture_date": 44, "source": 45, "pathology_verified": 46, "device": 47}
    for column, n in bad.items():
        name = f"images/r{n}.jpg"
        files[name] = images.jpeg(images.photo(120, 100, seed=n))
        values = dict(zip(COLUMN_NAMES, manifest_row(name).split(","), strict=True))
        values[column] = (f"={canary(n)}" if column == "device"
                          else f"{canary(n)} MRN 00{n}")  # a formula; a name with an MRN
        rows.append(",".join(values[c] for c in COLUMN_NAMES))
    rows.append(manifest_row("images/nl.jpg").replace(",back,", f',"left\n{canary(50)}",'))
    files["images/nl.jpg"] = images.jpeg(images.photo(120, 100, seed=50))
    files[f"{canary(51)}_stray.jpg"] = images.jpeg(images.photo(120, 100, seed=51))
    return files, rows
