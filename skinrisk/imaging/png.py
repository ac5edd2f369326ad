"""PNG at the chunk level: verify every chunk's CRC and keep only what draws the image.

Kept: the critical chunks and the colour chunks (tRNS, gAMA, cHRM, sRGB, iCCP, sBIT). Dropped:
text (tEXt, zTXt, iTXt), EXIF (eXIf), time (tIME) and every other ancillary chunk.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from skinrisk.imaging.errors import ImageRejected
from skinrisk.reasons import Reason

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP",
         b"sBIT"}


@dataclass(frozen=True)
class PngHeader:
    width: int
    height: int
    bit_depth: int
    colour_type: int  # 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA

    @property
    def plain_rgb8(self) -> bool:
        return self.bit_depth == 8 and self.colour_type == 2


def is_png(data: bytes) -> bool:
    return data[:8] == SIGNATURE


def read_png_header(data: bytes) -> PngHeader:
    """The IHDR chunk alone: enough to refuse a decompression bomb before reading further."""
    if not is_png(data):
        raise ImageRejected(Reason.UNSUPPORTED_FORMAT, "not a PNG file")
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise ImageRejected(Reason.UNREADABLE, "PNG does not start with an IHDR chunk")
    ihdr = data[16:29]
    return PngHeader(width=int.from_bytes(ihdr[0:4], "big"),
                     height=int.from_bytes(ihdr[4:8], "big"), bit_depth=ihdr[8],
                     colour_type=ihdr[9])


def strip_png_metadata(data: bytes) -> tuple[bytes, frozenset[bytes]]:
    """The image without metadata chunks, and the set of chunk types the file had."""
    chunks = _chunks(data)
    kept = SIGNATURE + b"".join(data[s:e] for kind, s, e in chunks if kind in _KEEP)
    return kept, frozenset(kind for kind, _, _ in chunks)


def _chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of each chunk, CRC-checked, up to and including IEND."""
    chunks, pos = [], 8
    while True:
        if pos + 12 > len(data):
            raise ImageRejected(Reason.UNREADABLE, "PNG ends before its IEND chunk")
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise ImageRejected(Reason.UNREADABLE, f"PNG chunk {kind!r} is truncated")
        if zlib.crc32(data[pos + 4:end - 4]) != int.from_bytes(data[end - 4:end], "big"):
            raise ImageRejected(Reason.UNREADABLE, f"PNG chunk {kind!r} fails its CRC")
        chunks.append((kind, pos, end))
        if kind == b"IEND":
            return chunks
        pos = end
