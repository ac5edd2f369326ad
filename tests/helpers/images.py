"""Tiny generated images with the properties ingest must handle (metadata, modes, defects)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

SERIAL = "SN-4471-XK"
GPS_LATITUDE = (51.0, 30.0, 12.34)


def photo(width: int = 64, height: int = 48, seed: int = 0) -> Image.Image:
    """A smooth, asymmetric RGB picture: orientation mistakes change it visibly."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 255 * xx / width
    g = 255 * yy / height
    b = 128 + 60 * np.sin(xx / 5 + rng.uniform(0, 3)) * (yy > height / 3)
    return Image.fromarray(np.stack([r, g, b], axis=2).clip(0, 255).astype(np.uint8), "RGB")


def exif_bytes(orientation: int = 1, private: bool = True) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    if private:
        exif[0x010F] = "Canon"
        exif[0x9286] = "patient MRN0042"  # UserComment
        exif.get_ifd(0x8769)[0xA431] = SERIAL  # BodySerialNumber
        exif.get_ifd(0x8825).update({1: "N", 2: GPS_LATITUDE, 3: "E", 4: GPS_LATITUDE})
    return exif.tobytes()


def jpeg(img: Image.Image | None = None, orientation: int = 1, private: bool = True,
         quality: int = 92, **save: object) -> bytes:
    img = img or photo()
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, exif=exif_bytes(orientation, private),
             comment=b"taken for MRN0042", **save)
    return out.getvalue()


def png(img: Image.Image | None = None, **save: object) -> bytes:
    out = io.BytesIO()
    (img or photo()).save(out, "PNG", **save)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG start declaring a huge image: decoding it would allocate width*height*3."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    tiny = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", tiny) + \
        _chunk(b"IEND", b"")


def png_with_text(img: Image.Image | None = None) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Patient", "MRN0042")
    info.add_itxt("Comment", "serial " + SERIAL)
    return png(img, pnginfo=info, exif=exif_bytes(1))


def animated_png() -> bytes:
    frames = [photo(seed=s) for s in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:], duration=100)
    return out.getvalue()


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)
