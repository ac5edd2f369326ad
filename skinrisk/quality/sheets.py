"""Contact sheets: what each quality reason rejected, so a person can judge the thresholds."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from skinrisk.localfs import atomic_write, file_digest

THUMB = 160
COLUMNS = 6


def contact_sheet(items: list[tuple[bytes, str]], title: str) -> bytes:
    """A PNG grid of thumbnails, each captioned (e.g. with the failing score)."""
    rows = max(1, -(-len(items) // COLUMNS))
    sheet = Image.new("RGB", (COLUMNS * THUMB, 24 + rows * (THUMB + 14)), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((6, 6), title, fill="black")
    for k, (data, caption) in enumerate(items):
        img = Image.open(io.BytesIO(data)).convert("RGB")
        img.thumbnail((THUMB - 4, THUMB - 4))
        x, y = (k % COLUMNS) * THUMB, 24 + (k // COLUMNS) * (THUMB + 14)
        sheet.paste(img, (x + 2, y + 2))
        draw.text((x + 2, y + THUMB), caption[:26], fill="black")
    out = io.BytesIO()
    sheet.save(out, "PNG")
    return out.getvalue()


def examples_by_reason(quarantined: Any, by_reason: dict[str, int], limit: int = 30
                       ) -> dict[str, list[tuple[str, str]]]:
    """Per reason code, its first ``limit`` images in dataset order as (image_id, detail).

    ``quarantined``: the quality quarantine as an Arrow table (``reasons`` ";"-joined codes,
    ``detail`` the matching "; "-joined details); only the rows shown are read into Python.
    """
    import numpy as np
    import pyarrow.compute as pc

    found: dict[str, list[tuple[str, str]]] = {}
    for reason in by_reason:
        has = pc.match_substring_regex(quarantined["reasons"], f"(^|;){re.escape(reason)}(;|$)")
        rows = quarantined.take(np.flatnonzero(has.to_numpy())[:limit]).to_pylist()
        found[reason] = [
            (row["image_id"], dict(zip(row["reasons"].split(";"), row["detail"].split("; "),
                                       strict=False)).get(reason, ""))
            for row in rows]
    return found


def write_sheets(folder: Path, cache: Path, examples: dict[str, list[tuple[str, str]]],
                 read: Callable[[str], bytes]) -> None:
    """One sheet per reason code in ``folder`` (always created: a DVC output), each rendered
    only when its examples changed since the last run (their digests are kept in ``cache``)."""
    folder.mkdir(parents=True, exist_ok=True)
    record = cache / "contact_sheets.json"
    drawn = json.loads(record.read_text()) if record.is_file() else {}
    for reason, shown in examples.items():
        digest = hashlib.sha256(json.dumps(shown).encode()).hexdigest()
        sheet = folder / f"{reason}.png"
        # The sheet's own bytes are part of the record: a kept cache (SKINRISK_CACHE) may have
        # drawn it into a workspace that was not published, and this one holds an older sheet.
        if drawn.get(reason) == [digest, file_digest(sheet)]:
            continue
        image = contact_sheet([(read(i), detail) for i, detail in shown],
                              f"quality: {reason} ({len(shown)} shown)")
        atomic_write(sheet, image)
        drawn[reason] = [digest, hashlib.sha256(image).hexdigest()]
        atomic_write(record, (json.dumps(drawn, indent=1, sort_keys=True) + "\n").encode())
