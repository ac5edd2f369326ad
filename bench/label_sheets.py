"""Contact sheets for labelling real photos by eye (docs/quality-labelling.md).

    python -m bench.label_sheets --images DIR --out DIR [--per-sheet 12] [--tile 420]

Each tile shows one photo, upright, with its sheet position and file name; no score of any
check is shown, so labels made from these sheets are independent of the filter they judge.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

COLUMNS = 4


def tile(path: Path, size: int, caption: str) -> Image.Image:
    with Image.open(path) as img:
        photo = ImageOps.exif_transpose(img).convert("RGB")
    photo.thumbnail((size, size - 22))
    out = Image.new("RGB", (size, size), "white")
    out.paste(photo, ((size - photo.width) // 2, 22))
    ImageDraw.Draw(out).text((4, 4), caption, fill="black")
    return out


def write_sheets(images: list[Path], out: Path, per_sheet: int, size: int) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    sheets = []
    for start in range(0, len(images), per_sheet):
        chunk = images[start:start + per_sheet]
        rows = -(-len(chunk) // COLUMNS)
        sheet = Image.new("RGB", (COLUMNS * size, rows * size), "grey")
        for i, path in enumerate(chunk):
            sheet.paste(tile(path, size, f"#{start + i} {path.name}"),
                        ((i % COLUMNS) * size, (i // COLUMNS) * size))
        target = out / f"sheet-{start // per_sheet:03d}.png"
        sheet.save(target)
        sheets.append(target)
    return sheets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-sheet", type=int, default=12)
    parser.add_argument("--tile", type=int, default=420)
    args = parser.parse_args()
    images = sorted(p for p in args.images.iterdir() if p.suffix.lower() in (".png", ".jpg"))
    sheets = write_sheets(images, args.out, args.per_sheet, args.tile)
    print(f"{len(images)} photos on {len(sheets)} sheets in {args.out}")


if __name__ == "__main__":
    main()
