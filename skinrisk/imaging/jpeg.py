"""JPEG at the segment level: drop every metadata segment without touching the image data.

Kept: the coding segments (quantisation and Huffman tables, frame and scan headers, restart
intervals), an ICC colour profile (APP2) and the Adobe colour-transform marker (APP14), both
needed to show the colours right and neither identifying. A JFIF header (APP0) is kept with its
thumbnail removed. Dropped: EXIF and XMP (APP1: GPS, serial numbers, dates, the embedded
thumbnail that can hold the uncropped photo), IPTC (APP13), comments, every other APPn, and
whatever follows the end-of-image marker (MPO's extra frames, trailing data).
"""

from __future__ import annotations

import re

from skinrisk.imaging.errors import ImageRejected
from skinrisk.reasons import Reason

SOI, EOI = b"\xff\xd8", b"\xff\xd9"
_SOS, _COM, _APP0, _APP2, _APP14 = 0xDA, 0xFE, 0xE0, 0xE2, 0xEE
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RSTn carry no length
# In entropy-coded data a real 0xFF byte is stuffed as FF 00, and RSTn markers may appear;
# anything else after FF is the next marker.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7]")


def is_jpeg(data: bytes) -> bool:
    return data[:3] == b"\xff\xd8\xff"


def strip_jpeg_metadata(data: bytes) -> bytes:
    """The same image with no metadata; raises ImageRejected(UNREADABLE) if truncated."""
    if not is_jpeg(data):
        raise ImageRejected(Reason.UNSUPPORTED_FORMAT, "not a JPEG file")
    out = [SOI]
    pos = 2
    while True:
        if pos + 2 > len(data):
            raise ImageRejected(Reason.UNREADABLE, "JPEG ends before its end-of-image marker")
        if data[pos] != 0xFF:
            raise ImageRejected(Reason.UNREADABLE, f"JPEG structure broken at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:
            out.append(EOI)
            return b"".join(out)
        if marker in _STANDALONE:
            out.append(data[pos:pos + 2])
            pos += 2
            continue
        end = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if end > len(data) or end < pos + 4:
            raise ImageRejected(Reason.UNREADABLE, "JPEG segment runs past the end of the file")
        if marker == _SOS:
            following = _NEXT_MARKER.search(data, end)
            if following is None:
                raise ImageRejected(Reason.UNREADABLE, "JPEG image data is truncated")
            out.append(data[pos:following.start()])
            pos = following.start()
            continue
        segment = data[pos:end]
        kept = _keep(marker, segment)
        if kept is not None:
            out.append(kept)
        pos = end


def _keep(marker: int, segment: bytes) -> bytes | None:
    if marker == _APP0 and segment[4:9] == b"JFIF\x00" and len(segment) >= 18:
        # JFIF header with a zero-size thumbnail: version, units, densities kept.
        return b"\xff\xe0\x00\x10" + segment[4:16] + b"\x00\x00"
    if marker == _APP2 and segment[4:16] == b"ICC_PROFILE\x00":
        return segment
    if marker == _APP14 and segment[4:9] == b"Adobe":
        return segment
    if 0xE0 <= marker <= 0xEF or marker == _COM:
        return None
    return segment
