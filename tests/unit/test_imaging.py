"""De-identifying one image: formats, modes, orientation, metadata, caps."""

import io
import tracemalloc

import numpy as np
import pytest
from PIL import Image, ImageOps

from skinrisk.imaging.deidentify import Limits, deidentify_image
from skinrisk.imaging.errors import ImageRejected
from skinrisk.imaging.jpeg import strip_jpeg_metadata
from skinrisk.imaging.jpegtran import jpegtran_path
from skinrisk.imaging.png import strip_png_metadata
from skinrisk.reasons import Reason
from tests.helpers import images

LIMITS = Limits(max_bytes=5_000_000, max_pixels=4_000_000)


def rejected(data: bytes, limits: Limits = LIMITS) -> Reason:
    with pytest.raises(ImageRejected) as raised:
        deidentify_image(data, limits)
    return raised.value.reason


def assert_no_metadata(data: bytes) -> None:
    for secret in (images.SERIAL.encode(), b"MRN0042", b"Canon", b"Exif\x00\x00"):
        assert secret not in data
    img = Image.open(io.BytesIO(data))
    assert dict(img.getexif()) == {}
    assert not {"exif", "comment", "xmp"} & set(img.info)


def test_an_upright_rgb_jpeg_keeps_its_image_data_and_loses_its_metadata() -> None:
    data = images.jpeg(images.photo(64, 48), orientation=1)
    stored = deidentify_image(data, LIMITS)
    assert (stored.format, stored.width, stored.height, stored.transform) == ("jpeg", 64, 48,
                                                                             "none")
    assert_no_metadata(stored.data)
    # Not re-encoded: the decoded pixels are identical, not merely close.
    assert np.array_equal(images.decoded(stored.data), images.decoded(data))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_gives_the_same_upright_pixels(orientation: int) -> None:
    upright = images.photo(64, 48)
    # What a camera writes: pixels stored rotated, plus the tag that says how to undo it.
    inverse = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
               6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_270}[orientation]
    sensor = upright.transpose(inverse) if inverse is not None else upright
    data = images.jpeg(sensor, orientation=orientation, quality=95)
    stored = deidentify_image(data, LIMITS)
    assert (stored.width, stored.height) == (64, 48)
    assert_no_metadata(stored.data)
    reference = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))), np.int16)
    assert np.abs(images.decoded(stored.data) - reference).mean() < 1.5
    assert np.abs(images.decoded(stored.data) - np.asarray(upright, np.int16)).mean() < 4
    expected = "none" if orientation == 1 else "lossless"
    assert stored.transform == expected


def test_jpegtran_is_installed_by_setup() -> None:
    assert jpegtran_path() is not None, "make setup installs libjpeg-turbo-progs"


def test_an_orientation_jpegtran_cannot_apply_perfectly_is_reencoded() -> None:
    # 61x45 is not a multiple of the 16x16 block, so a lossless 90-degree turn is impossible.
    data = images.jpeg(images.photo(61, 45), orientation=6)
    stored = deidentify_image(data, LIMITS)
    assert (stored.transform, stored.width, stored.height) == ("reencoded", 45, 61)
    assert_no_metadata(stored.data)


def test_a_png_loses_text_and_exif_chunks_and_keeps_pixels() -> None:
    data = images.png_with_text()
    stored = deidentify_image(data, LIMITS)
    assert stored.format == "png" and stored.transform == "none"
    assert_no_metadata(stored.data)
    assert np.array_equal(images.decoded(stored.data), images.decoded(data))
    assert b"tEXt" not in stored.data and b"iTXt" not in stored.data


def test_a_png_named_jpg_is_judged_by_its_content() -> None:
    assert deidentify_image(images.png(), LIMITS).format == "png"


@pytest.mark.parametrize(("make", "converted_from", "fmt"), [
    (lambda: images.jpeg(images.photo().convert("L")), "L", "jpeg"),
    (lambda: images.jpeg(images.photo().convert("CMYK")), "CMYK", "jpeg"),
    (lambda: images.png(images.photo().convert("L")), "L", "png"),
    (lambda: images.png(images.photo().convert("P")), "P", "png"),
    (lambda: images.png(images.photo().convert("RGBA")), "RGBA", "png"),
    (lambda: images.png(Image.fromarray(
        np.asarray(images.photo().convert("L"), np.uint16) * 257)), "I;16", "png"),
])
def test_other_pixel_modes_become_8_bit_rgb(make, converted_from: str, fmt: str) -> None:
    stored = deidentify_image(make(), LIMITS)
    assert (stored.converted_from, stored.format) == (converted_from, fmt)
    img = Image.open(io.BytesIO(stored.data))
    assert img.mode == "RGB" and img.size == (64, 48)
    assert_no_metadata(stored.data)


def test_sixteen_bit_keeps_the_high_byte() -> None:
    gray = np.asarray(images.photo().convert("L"), np.uint16)
    stored = deidentify_image(images.png(Image.fromarray(gray * 257)), LIMITS)
    assert np.array_equal(images.decoded(stored.data)[..., 0], gray)


@pytest.mark.parametrize(("make", "reason"), [
    (lambda: b"", Reason.EMPTY_FILE),
    (lambda: images.jpeg()[:300], Reason.UNREADABLE),
    (lambda: images.jpeg()[: len(images.jpeg()) // 2], Reason.UNREADABLE),
    (lambda: images.png()[:-20], Reason.UNREADABLE),
    (lambda: images.png()[:60] + b"\x00" * 10 + images.png()[70:], Reason.UNREADABLE),
    (lambda: b"GIF89a" + b"\x00" * 40, Reason.UNSUPPORTED_FORMAT),
    (lambda: b"hello, not an image", Reason.UNSUPPORTED_FORMAT),
    (lambda: images.animated_png(), Reason.ANIMATED),
    (lambda: images.png(Image.new("RGBA", (8, 8), (10, 20, 30, 0))), Reason.TRANSPARENCY),
    (lambda: images.png_header_only(30_000, 30_000), Reason.TOO_MANY_PIXELS),
    (lambda: b"\xff\xd8\xff" + b"\x00" * 6_000_000, Reason.TOO_LARGE),
])
def test_refusals_have_a_reason(make, reason: Reason) -> None:
    assert rejected(make()) is reason


def test_a_decompression_bomb_is_refused_without_allocating_it() -> None:
    bomb = images.png_header_only(30_000, 30_000)  # 2.7 GB of pixels if decoded
    tracemalloc.start()
    try:
        assert rejected(bomb, Limits(10**9, 10**12)) is Reason.TOO_MANY_PIXELS
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


def test_the_pixel_cap_is_checked_before_decoding() -> None:
    data = images.jpeg(images.photo(64, 48))
    assert rejected(data, Limits(10**7, 64 * 48 - 1)) is Reason.TOO_MANY_PIXELS
    assert deidentify_image(data, Limits(10**7, 64 * 48)).width == 64


def test_strip_jpeg_drops_app_segments_comments_and_trailing_data() -> None:
    data = images.jpeg() + b"trailing MRN0042"
    stripped = strip_jpeg_metadata(data)
    assert stripped.endswith(b"\xff\xd9") and b"MRN0042" not in stripped
    assert strip_jpeg_metadata(stripped) == stripped  # idempotent


def test_strip_png_reports_chunk_types() -> None:
    stripped, kinds = strip_png_metadata(images.png_with_text())
    assert b"tEXt" in kinds and b"iTXt" in kinds and b"eXIf" in kinds
    assert strip_png_metadata(stripped)[1] == {b"IHDR", b"IDAT", b"IEND"}
