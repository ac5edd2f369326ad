"""Case 14: the decoders and parsers that meet hospital bytes, under a fuzzer (hypothesis).

Every input ends in a value or a documented, clean rejection — ImageRejected with a reason
code for images, BatchFormatError naming the line for manifests and markers — never another
exception. What de-identification accepts is an image of the size it states, which the quality
stage decodes or refuses with OSError (quarantined as unreadable there).

Bounded and repeatable in CI (derandomised, a fixed number of examples per target); set
SKINRISK_FUZZ_EXAMPLES=20000 (and HYPOTHESIS_SEED unset) for a longer, random campaign.
"""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from skinrisk.batch import COLUMNS, BatchFormatError, read_manifest
from skinrisk.batch_marker import parse_ready_marker
from skinrisk.imaging.deidentify import Limits, deidentify_image
from skinrisk.imaging.errors import ImageRejected
from skinrisk.quality.decode import load_working_image
from tests.helpers.images import jpeg, photo, png

pytestmark = pytest.mark.ml

EXAMPLES = int(os.environ.get("SKINRISK_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="SKINRISK_FUZZ_EXAMPLES"
                not in os.environ, suppress_health_check=[HealthCheck.too_slow,
                                                          HealthCheck.data_too_large])
LIMITS = Limits(max_bytes=2_000_000, max_pixels=4_000_000)
SEEDS = [jpeg(photo(40, 30, seed=1)), jpeg(photo(33, 47, seed=2), orientation=6),
         png(photo(24, 24, seed=3)), png(photo(20, 10, seed=4).convert("P"))]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real JPEG or PNG, damaged the ways transfers and devices damage files."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "zero"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif data:
            data[at:at + draw(st.integers(1, 32))] = b"\x00" * 32
    return bytes(data)


def _deidentify_or_reject(data: bytes) -> None:
    try:
        stored = deidentify_image(data, LIMITS)
    except ImageRejected as exc:
        assert exc.reason.value and exc.detail
        return
    # Accepted: the stored bytes are an image of the stated size. JPEG pixels are first decoded
    # by the quality stage, whose one documented refusal is OSError (-> quarantined).
    with Image.open(io.BytesIO(stored.data)) as img:
        assert img.size == (stored.width, stored.height) and img.mode == "RGB"
    try:
        assert load_working_image(stored.data).ndim == 3
    except OSError:
        assert stored.format == "jpeg" and stored.transform != "reencoded"


@FUZZ
@given(mutated())
def test_damaged_images_are_stored_whole_or_rejected_with_a_reason(data: bytes) -> None:
    _deidentify_or_reject(data)


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_are_rejected_with_a_reason(data: bytes) -> None:
    _deidentify_or_reject(data)


CELLS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@st.composite
def manifests(draw: st.DrawFn) -> str:
    """CSV text near the format: the right header or a damaged one, rows of odd cells."""
    header = [c.name for c in COLUMNS]
    if draw(st.booleans()):
        header = draw(st.permutations(header))[: draw(st.integers(0, len(header)))]
        header += draw(st.lists(CELLS, max_size=2))
    rows = draw(st.lists(st.lists(st.one_of(CELLS, st.sampled_from(
        ["images/a.jpg", "true", "false", "3", "7", "=cmd()", "", "MEL", "PAD:SCC", "\"", ","])),
        max_size=len(header) + 2), max_size=6))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return newline.join(",".join(r) for r in [header, *rows])


@FUZZ
@given(manifests())
def test_manifests_parse_or_fail_naming_where(text: str) -> None:
    try:
        reading = read_manifest(text, "b1/manifest.csv")
    except BatchFormatError as exc:
        assert "b1/manifest.csv" in str(exc)
        return
    for rejected in reading.rejected:
        assert rejected.reason and rejected.line >= 2


@FUZZ
@given(st.one_of(st.binary(max_size=256), st.text(max_size=256).map(str.encode),
                 st.dictionaries(st.sampled_from(["manifest_sha256", "image_count", "x"]),
                                 st.one_of(st.integers(), st.text(max_size=70), st.none()))
                 .map(lambda d: repr(d).replace("'", '"').encode())))
def test_ready_markers_parse_or_fail_naming_the_marker(data: bytes) -> None:
    try:
        parse_ready_marker(data, "b1/_READY")
    except BatchFormatError as exc:
        assert "b1/_READY" in str(exc)
