"""Review pages: each quarantined image with its thumbnail, id, scores beside thresholds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from skinrisk.config import QualityParams
from skinrisk.quality import review
from skinrisk.quality.review import ReviewItem, measures, review_items, write_review
from tests.helpers.images import jpeg, photo

pytestmark = pytest.mark.ml  # pyarrow
PARAMS = QualityParams()
SCORES = {"image_id": "x", "decodable": True, "error": None, "sharpness": 2.0,
          "dark_fraction": 0.1, "bright_fraction": 0.0, "skin_fraction": 0.5,
          "dye_fraction": 0.0, "hair_fraction": 0.2, "gloss_fraction": 0.0, "faces": 1,
          "phash": 123, "wet_fraction": 0.0}


def test_each_score_sits_beside_the_threshold_named_after_it() -> None:
    shown = {m.name: m for m in measures(SCORES, 90, 200, PARAMS)}
    assert "phash" not in shown and "decodable" not in shown
    assert (shown["short_side_px"].value, shown["short_side_px"].bound,
            shown["short_side_px"].failed) == (90, ">= 100", True)
    assert (shown["sharpness"].bound, shown["sharpness"].failed) == (">= 4.5", True)
    assert (shown["hair_fraction"].bound, shown["hair_fraction"].failed) == ("<= 0.002", True)
    assert (shown["wet_fraction"].bound, shown["wet_fraction"].failed) == ("<= 0.0002", False)
    assert shown["gloss_fraction"].bound == ""  # a drift measure, judged by no check
    assert (shown["dark_fraction"].bound, shown["dark_fraction"].failed) == ("<= 0.5", False)
    assert (shown["faces"].bound, shown["faces"].failed) == ("<= 0", True)
    unblocked = {m.name: m for m in measures(SCORES, 90, 200, PARAMS.model_copy(
        update={"block_faces": False}))}
    assert (unblocked["faces"].bound, unblocked["faces"].failed) == ("", False)
    floor = {m.name: m for m in measures(SCORES, 200, 250, PARAMS, min_side_px=299)}
    assert (floor["short_side_px"].bound, floor["short_side_px"].failed) == (">= 299", True)


def quarantine(n: int):
    import pyarrow as pa

    ids = [f"{k:064x}" for k in range(n)]
    images = pa.table({"image_id": ids, "width": [320] * n, "height": [240] * n,
                       "tumor_type": [None] + ["lipoma"] * (n - 1), "grade": ["low-risk"] * n})
    scores = pa.Table.from_pylist([{**SCORES, "image_id": i} for i in ids])
    quarantined = pa.table({
        "image_id": ids[::-1], "reasons": ["blur;hair"] + ["blur"] * (n - 1),
        "detail": ["sharpness 2 < 4.5; hair 0.2 > 0.068"] + ["sharpness 2 < 4.5"] * (n - 1),
        "dup_group": ids[::-1]})
    return quarantined, images, scores


def test_pages_are_self_contained_split_and_redrawn_only_on_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(review, "PAGE_SIZE", 3)
    items = review_items(*quarantine(5), PARAMS)
    assert {r: len(v) for r, v in items.items()} == {"blur": 5, "hair": 1}
    assert items["hair"][0].label == "lipoma" and items["blur"][-1].label == "low-risk"
    reads: list[str] = []

    def read(image_id: str) -> bytes:
        reads.append(image_id)
        return jpeg(photo(seed=len(reads)))

    folder, cache = tmp_path / "review", tmp_path / "cache"
    cache.mkdir()
    write_review(folder, cache, items, read)
    assert sorted(p.name for p in folder.iterdir()) == [
        "blur-2.html", "blur.html", "hair.html", "index.html"]
    page = (folder / "hair.html").read_text()
    assert re.search(r'src="data:image/jpeg;base64,[A-Za-z0-9+/=]{200,}"', page)
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from elsewhere
    hair = items["hair"][0]
    assert f"<code>{hair.image_id}</code>" in page and "&gt;= 4.5" in page
    assert f"{hair.image_id},accept,,REVIEWER,YYYY-MM-DD" in page
    reads.clear()
    write_review(folder, cache, items, read)
    assert reads == []
    # The record names the page's bytes: an older page in this workspace (a kept cache, a
    # checkout of an older branch head) is redrawn, not trusted.
    (folder / "hair.html").write_text("an older page")
    write_review(folder, cache, items, read)
    assert reads == [hair.image_id] and "an older page" not in (folder / "hair.html").read_text()
    reads.clear()
    write_review(folder, cache, {"blur": items["blur"][:2]}, read)  # hair gone, blur shrank
    assert sorted(p.name for p in folder.iterdir()) == ["blur.html", "index.html"]
    assert len(reads) == 2


def test_an_undecodable_image_shows_no_preview_and_no_scores(tmp_path: Path) -> None:
    item = ReviewItem("e" * 64, "low-risk", "unreadable", "does not decode (OSError)", "e" * 64,
                      ())
    write_review(tmp_path / "r", tmp_path, {"unreadable": [item]}, lambda _: b"not an image")
    assert "no preview: does not decode" in (tmp_path / "r" / "unreadable.html").read_text()
    with pytest.raises(ValueError, match="not a plain code"):
        write_review(tmp_path / "r", tmp_path, {"../x": [item]}, lambda _: b"")


def test_kept_flagged_images_have_their_own_pages_with_a_reject_line(tmp_path: Path) -> None:
    import pyarrow as pa

    quarantined, images, scores = quarantine(3)
    kept = images["image_id"][0].as_py()
    flagged = pa.table({"image_id": [kept], "quality_flags": ["exudate;dye"],
                        "quality_flag_detail": ["gloss 0.001 > 0.0005; dye 0.01 > 0.0025"],
                        "dup_group": [kept]})
    items = review_items(quarantined.slice(1), images, scores, PARAMS, flagged=flagged)
    assert {r: len(v) for r, v in items.items()} == {"blur": 2, "kept_dye": 1, "kept_exudate": 1}
    assert items["kept_dye"][0].kept and not items["blur"][0].kept
    folder, cache = tmp_path / "review", tmp_path / "cache"
    cache.mkdir()
    write_review(folder, cache, items, lambda _: jpeg(photo(seed=1)))
    page = (folder / "kept_exudate.html").read_text()
    assert "kept, flagged" in page and "quality.actions" in page
    # The lines a reviewer copies: accept (clears the flag) or reject for this page's check.
    assert f"{kept},reject,exudate,REVIEWER,YYYY-MM-DD" in page
    assert f"{kept},accept,,REVIEWER,YYYY-MM-DD" in page
    assert f"{kept},reject,dye,REVIEWER" in (folder / "kept_dye.html").read_text()
