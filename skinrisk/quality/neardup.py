"""Near-duplicate photos across the whole dataset, by perceptual-hash Hamming distance.

A group is a head (its earliest photo) and the photos within ``distance`` of that head: photos
are taken in dataset order, each joins the earliest head within ``distance``, else it heads a
new group. Groups never chain: two members are at most ``2 * distance`` apart, so a common
look (a plain centred nevus) cannot pull lesions of many patients into one group through a
series of small steps, as connected components of "within ``distance``" did.

Indexed, not all-pairs: the 63 hash bits are cut into ``distance + 1`` bands, and two hashes
within ``distance`` bits agree exactly on at least one band (pigeonhole), so a photo is compared
only with the heads that share a band with it. Cost grows with the dataset, not with its square.

Incremental: a photo's group depends only on the photos before it, so the groups of a grown
dataset are those of its earlier part with the new photos assigned after them. ``link`` takes
the earlier part's heads and looks up each new photo in a sorted per-band index of the earlier
heads (binary search) and in a dict of the new ones. Same groups as assigning everything from
scratch (tests/unit/test_quality_checks.py checks both ways agree).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BITS = 63


@dataclass(frozen=True)
class DupInfo:
    group: str  # the group's first image (every member carries it): the split keeps it whole
    is_first: bool


def _bands(distance: int) -> list[tuple[int, int]]:
    count = distance + 1
    edges = [round(i * BITS / count) for i in range(count + 1)]
    return [(edges[i], edges[i + 1]) for i in range(count)]


# Stored beside cached heads: heads saved under another grouping rule are not reused.
RULE = "earliest-head-within-distance"


def link(hashes: np.ndarray, heads: np.ndarray, distance: int) -> np.ndarray:
    """The head (index of the earliest member) of every hash's group, in dataset order.

    ``hashes``: int64 perceptual hashes in dataset order. ``heads``: what this function returned
    for a prefix of them (empty to start from scratch); only the rest are looked up.
    """
    done, total = len(heads), len(hashes)
    if done > total or np.any(heads > np.arange(done)):
        raise ValueError(f"near-duplicate heads: {done} earlier heads for {total} hashes, or a "
                         "head after its member; pass link's own result for a prefix of them")
    bands = _bands(distance)
    values = hashes.tolist()
    out = np.concatenate([heads.astype(np.int64), np.arange(done, total, dtype=np.int64)])
    earlier = _head_index(hashes, np.flatnonzero(out[:done] == np.arange(done)), bands)
    new_heads: list[dict[int, list[int]]] = [defaultdict(list) for _ in bands]
    for i in range(done, total):
        keys = _keys(values[i], bands)
        candidates: set[int] = set()
        for (sorted_keys, owner), band, key in zip(earlier, new_heads, keys, strict=True):
            first, end = sorted_keys.searchsorted(key, "left"), sorted_keys.searchsorted(
                key, "right")
            candidates.update(owner[first:end].tolist())
            candidates.update(band[key])
        within = [j for j in candidates if (values[i] ^ values[j]).bit_count() <= distance]
        if within:
            out[i] = min(within)  # the earliest head, whatever order the index found them in
        else:
            for band, key in zip(new_heads, keys, strict=True):
                band[key].append(i)
    return out


def _keys(value: int, bands: list[tuple[int, int]]) -> list[int]:
    return [(value >> lo) & ((1 << (hi - lo)) - 1) for lo, hi in bands]


def _head_index(hashes: np.ndarray, head_positions: np.ndarray, bands: list[tuple[int, int]]
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per band: the heads' band keys, sorted, and the position of the head of each key."""
    index = []
    for lo, hi in bands:
        keys = (hashes[head_positions] >> lo) & ((1 << (hi - lo)) - 1)
        order = np.argsort(keys, kind="stable")
        index.append((keys[order], head_positions[order]))
    return index


def group_near_duplicates(hashes: Sequence[tuple[str, int]], distance: int
                          ) -> dict[str, DupInfo]:
    """``hashes`` in dataset order (image_id, phash); earlier images head their groups."""
    heads = link(np.array([h for _, h in hashes], dtype=np.int64), np.empty(0, np.int64),
                 distance)
    out = {}
    for (image_id, _), head in zip(hashes, heads.tolist(), strict=True):
        group = hashes[head][0]
        out[image_id] = DupInfo(group=group, is_first=group == image_id)
    return out
