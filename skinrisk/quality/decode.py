"""A small working copy of an image, decoded as cheaply as the checks allow."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

WORKING_SIDE = 384  # long side of the working copy: enough for blur, hair and dye at 2000 px


def load_working_image(data: bytes, side: int = WORKING_SIDE) -> np.ndarray:
    """RGB uint8 array with long side ``side`` (never upscaled). Raises OSError if undecodable.

    JPEGs decode at 1/2, 1/4 or 1/8 scale through DCT scaling (draft), so a 2000x1500 photo
    is never fully decoded; PNGs have no reduced decode and are shrunk after decoding.
    """
    img = Image.open(io.BytesIO(data))
    scale = max(img.size) / side
    if img.format == "JPEG" and scale >= 2:
        img.draft("RGB", (int(img.width / scale), int(img.height / scale)))
    img = img.convert("RGB")
    if max(img.size) > side:
        ratio = side / max(img.size)
        img = img.resize((max(1, round(img.width * ratio)), max(1, round(img.height * ratio))),
                         Image.Resampling.BILINEAR)
    return np.asarray(img)
