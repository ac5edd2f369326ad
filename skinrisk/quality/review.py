"""Review pages: every image a quality reason took out, for a person to confirm or override.

One self-contained HTML page per reason (``<reason>.html``, then ``<reason>-2.html``... past
``PAGE_SIZE`` images), each image with an embedded thumbnail, its id (what an override names),
its label (taxonomy type or grade, never the code as sent), its reasons and every score beside
its threshold, plus an ``index.html``. Members of a near-duplicate group sit together. A page is
rendered again only when what it shows changed; pages of reasons that no longer occur are
removed, since the folder is a view of the current quarantine, not a record.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from skinrisk.config import QualityParams
from skinrisk.localfs import atomic_write, file_digest
from skinrisk.reasons import Reason

PAGE_SIZE = 200
THUMB = 192
RECORD = "review_pages.json"
_NOT_SCORES = {"image_id", "decodable", "error", "phash"}


@dataclass(frozen=True)
class Measure:
    name: str
    value: float
    bound: str  # e.g. ">= 4.5"; "" where no threshold applies
    failed: bool


@dataclass(frozen=True)
class ReviewItem:
    image_id: str
    label: str  # tumor type, or the grade where the code names no type
    reasons: str  # ";"-joined codes
    detail: str
    dup_group: str
    measures: tuple[Measure, ...]
    # In the curated set with these codes as flags (QualityParams.actions), not quarantined.
    kept: bool = False


def measures(scores: Mapping[str, Any], width: int, height: int, params: QualityParams,
             min_side_px: int | None = None) -> tuple[Measure, ...]:
    """Each score beside the threshold named after it (``min_<score>`` / ``max_<score>``), so a
    check added with that naming shows up here without a change. ``min_side_px``: the
    resolution floor the stage applied, where it is not quality's own."""
    return _measures(scores, width, height, params, params.model_dump(), min_side_px)


def measure_items(items: list[ReviewItem], images: Any, scores: Any, params: QualityParams,
                  min_side_px: int | None = None) -> list[ReviewItem]:
    """The items with every score beside its threshold (none for an undecodable image: its
    scores are zeros, not measurements)."""
    import dataclasses

    import pyarrow as pa
    import pyarrow.compute as pc

    where = pc.index_in(pa.array([i.image_id for i in items], pa.string()),
                        value_set=images["image_id"])
    sizes = images.take(where).select(["width", "height"]).to_pylist()
    limits = params.model_dump()  # once: it costs more than the rest of a row's measures
    return [dataclasses.replace(item, measures=_measures(s, z["width"], z["height"], params,
                                                         limits, min_side_px)
                                if s["decodable"] else ())
            for item, z, s in zip(items, sizes, scores.take(where).to_pylist(), strict=True)]


def _measures(scores: Mapping[str, Any], width: int, height: int, params: QualityParams,
              limits: Mapping[str, Any], min_side_px: int | None) -> tuple[Measure, ...]:
    values = {"short_side_px": min(width, height),
              **{k: v for k, v in scores.items() if k not in _NOT_SCORES
                 and isinstance(v, int | float) and not isinstance(v, bool)}}
    out = []
    for name, value in values.items():
        low, high = limits.get(f"min_{name}"), limits.get(f"max_{name}")
        if name == "short_side_px":
            low = params.min_side_px if min_side_px is None else min_side_px
        if name == "faces" and params.block_faces:
            high = 0
        bound = " ".join(filter(None, [f">= {low}" if low is not None else "",
                                       f"<= {high}" if high is not None else ""]))
        failed = (low is not None and value < low) or (high is not None and value > high)
        out.append(Measure(name, value, bound, bool(failed)))
    return tuple(out)


def review_items(quarantined: Any, images: Any, scores: Any, params: QualityParams,
                 min_side_px: int | None = None, lazy: bool = False, flagged: Any = None
                 ) -> dict[str, list[ReviewItem]]:
    """Per reason code, its images, group members together in dataset order. ``quarantined``:
    the quality quarantine (Arrow); ``images``, ``scores``: the dataset, row-aligned.
    ``lazy``: leave the measures out (see write_review's ``complete`` and measure_items).
    ``flagged``: kept images with flags (QualityOutcome.flagged), on pages ``kept_<code>``."""
    items = _items(quarantined, images, "reasons", "detail", kept=False)
    if flagged is not None:
        items += _items(flagged, images, "quality_flags", "quality_flag_detail",
                        kept=True)
    if not lazy:
        items = measure_items(items, images, scores, params, min_side_px)
    first = {}
    for k, item in enumerate(items):
        first.setdefault(item.dup_group, k)
    items.sort(key=lambda item: first[item.dup_group])  # stable: dataset order within a group
    by_reason: dict[str, list[ReviewItem]] = {}
    for item in items:
        for code in item.reasons.split(";"):
            by_reason.setdefault(f"kept_{code}" if item.kept else code, []).append(item)
    return dict(sorted(by_reason.items()))


def _items(table: Any, images: Any, codes: str, detail: str, kept: bool) -> list[ReviewItem]:
    import pyarrow.compute as pc

    where = pc.index_in(table["image_id"], value_set=images["image_id"])
    shown = images.take(where).select(["tumor_type", "grade"]).to_pylist()
    return [ReviewItem(q["image_id"], i["tumor_type"] or i["grade"], q[codes], q[detail],
                       q["dup_group"], (), kept)
            for q, i in zip(table.to_pylist(), shown, strict=True)]


def thumbnail(data: bytes) -> bytes | None:
    """A small JPEG of the photo; None where it does not decode."""
    try:
        img = Image.open(io.BytesIO(data)).convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    img.thumbnail((THUMB, THUMB))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


def render_page(reason: str, items: list[ReviewItem], thumbs: Mapping[str, bytes | None],
                page: int, has_next: bool) -> str:
    """One page. It shows nothing that depends on the other pages (no totals: the index has
    them), so a page whose images did not change is never drawn again as the dataset grows."""
    try:
        advice = (_KEPT if reason.startswith("kept_") else "") + Reason(
            reason.removeprefix("kept_")).advice
    except ValueError:  # a code this version does not know (a newer cache): no advice
        advice = ""
    links = ([f'<a href="{_page_name(reason, page - 1)}">previous</a>'] if page > 1 else []) + (
        [f'<a href="{_page_name(reason, page + 1)}">next</a>'] if has_next else [])
    cards = "\n".join(_card(item, thumbs.get(item.image_id), reason) for item in items)
    return _PAGE.format(title=html.escape(f"quality review: {reason}"), page=page,
                        advice=html.escape(advice), nav=" · ".join(links), cards=cards)


def write_review(folder: Path, cache: Path, by_reason: Mapping[str, list[ReviewItem]],
                 read: Callable[[str], bytes],
                 complete: Callable[[list[ReviewItem]], list[ReviewItem]] | None = None,
                 version: str = "") -> None:
    """The pages in ``folder`` (always created: a DVC output) and its index; a page is drawn
    only when its items changed since the last run (digests kept in ``cache``).

    ``complete``: fills in the measures of a page's items when it is drawn (review_items with
    ``lazy=True``), so a run computes them only for changed pages; ``version`` then names what
    else the measures depend on (the thresholds), so a changed threshold redraws every page.
    """
    folder.mkdir(parents=True, exist_ok=True)
    record = cache / RECORD
    drawn = json.loads(record.read_text()) if record.is_file() else {}
    wanted = {"index.html"}
    for reason, items in by_reason.items():
        chunks = [items[k:k + PAGE_SIZE] for k in range(0, len(items), PAGE_SIZE)]
        for page, chunk in enumerate(chunks, start=1):
            name = _page_name(reason, page)
            wanted.add(name)
            has_next = page < len(chunks)
            # repr, not asdict: the same text for the same items, at a fraction of the cost
            # (this runs over every quarantined image on every run).
            digest = hashlib.sha256(repr((version, has_next, chunk)).encode()).hexdigest()
            # The page's own bytes too (a kept cache may have drawn it elsewhere: sheets.py).
            if drawn.get(name) == [digest, file_digest(folder / name)]:
                continue
            chunk = complete(chunk) if complete else chunk
            thumbs = {i.image_id: thumbnail(read(i.image_id)) for i in chunk}
            rendered = render_page(reason, chunk, thumbs, page, has_next).encode()
            atomic_write(folder / name, rendered)
            drawn[name] = [digest, hashlib.sha256(rendered).hexdigest()]
            atomic_write(record, (json.dumps(drawn, indent=1, sort_keys=True) + "\n").encode())
    for stale in folder.glob("*.html"):
        if stale.name not in wanted:
            stale.unlink()
    atomic_write(folder / "index.html", _index(by_reason).encode())


def _page_name(reason: str, page: int) -> str:
    if not re.fullmatch(r"[a-z0-9_]+", reason):
        raise ValueError(f"review page: reason code {reason!r} is not a plain code")
    return f"{reason}.html" if page == 1 else f"{reason}-{page}.html"


def _card(item: ReviewItem, thumb: bytes | None, reason: str) -> str:
    picture = (f'<img src="data:image/jpeg;base64,{base64.b64encode(thumb).decode()}" alt="">'
               if thumb else '<div class="none">no preview: does not decode</div>')
    rows = "".join(
        f'<tr class="{"fail" if m.failed else ""}"><td>{html.escape(m.name)}</td>'
        f"<td>{_number(m.value)}</td><td>{html.escape(m.bound)}</td></tr>"
        for m in item.measures)
    e = html.escape
    if item.kept:  # accept: stays, its flag cleared (no painting); reject: leaves the set
        status = "kept, flagged"
        lines = (f"{item.image_id},accept,,REVIEWER,YYYY-MM-DD\n"
                 f"{item.image_id},reject,{reason.removeprefix('kept_')},REVIEWER,YYYY-MM-DD")
    else:
        status, lines = "quarantined", f"{item.image_id},accept,,REVIEWER,YYYY-MM-DD"
    return (f'<div class="card"><div>{picture}</div><div>'
            f"<code>{e(item.image_id)}</code><br>label <b>{e(item.label)}</b> · {status} "
            f"<b>{e(item.reasons.replace(';', ', '))}</b><br>{e(item.detail)}<br>"
            f"near-duplicate group <code>{e(item.dup_group)}</code>"
            f"<table><tr><th>score</th><th>value</th><th>threshold</th></tr>{rows}</table>"
            f"<pre>{e(lines)}</pre></div></div>")


_KEPT = ("Kept in the curated set with this flag: params.yaml quality.actions says flag (or, "
         "for dye, inpaint: pack paints the ink out of the training copy). Accept one to clear "
         "its flag (and stop the painting, where the check was wrong); reject one if it should "
         "not train a model. The sender's advice: ")


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.5g}"


def _index(by_reason: Mapping[str, list[ReviewItem]]) -> str:
    rows = "".join(f'<li><a href="{_page_name(r, 1)}">{html.escape(r)}</a>: {len(items)} '
                   "images</li>" for r, items in by_reason.items())
    return _PAGE.format(title="quality review", total=sum(map(len, by_reason.values())),
                        page=1, pages=1, advice="", nav="", cards=f"<ul>{rows}</ul>")


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
.card {{ display: flex; gap: 1em; border-top: 1px solid #ccc; padding: .6em 0; }}
.card img {{ max-width: 192px; }}
.none {{ width: 192px; color: #777; }}
table {{ border-collapse: collapse; font-size: 90%; margin-top: .3em; }}
td, th {{ padding: 0 .6em; text-align: left; }}
tr.fail td {{ color: #b00; font-weight: bold; }}
pre {{ background: #f4f4f4; padding: .2em; }}
</style></head><body>
<h1>{title}</h1>
<p>page {page} · {nav} (<a href="index.html">all reasons, with counts</a>)</p>
<p>{advice}</p>
<p>To overrule the filter, add a row per image to the overrides file named by params.yaml
<code>quality.overrides_path</code> (columns image_id, decision, reason, reviewer, date;
reject needs a reason code) and rerun <code>skinrisk quality</code>.</p>
{cards}
</body></html>
"""
