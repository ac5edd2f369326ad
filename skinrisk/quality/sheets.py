"""Contact sheets: what each quality reason rejected, so a person can judge the thresholds."""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image, ImageDraw

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


def sheets_by_reason(quarantined: list, read: Callable[[str], bytes], limit: int = 30
                     ) -> dict[str, bytes]:
    """One sheet per reason code, up to ``limit`` examples each, in dataset order."""
    by_reason: dict[str, list[tuple[bytes, str]]] = {}
    for record in quarantined:
        for reason, detail in zip(record.reasons.split(";"), record.detail.split("; "),
                                  strict=False):
            examples = by_reason.setdefault(reason, [])
            if len(examples) < limit:
                examples.append((read(record.image_id), detail))
    return {reason: contact_sheet(items, f"quality: {reason} ({len(items)} shown)")
            for reason, items in by_reason.items()}
