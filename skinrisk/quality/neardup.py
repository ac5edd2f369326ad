"""Near-duplicate photos across the whole dataset, by perceptual-hash Hamming distance.

Indexed, not all-pairs: the 63 hash bits are cut into ``distance + 1`` bands, and two hashes
within ``distance`` bits agree exactly on at least one band (pigeonhole), so only photos that
share a band are compared. Cost grows with the dataset, not with its square.

Incremental: groups are the connected components of "within ``distance``", each headed by its
earliest image (the smallest index). Components do not depend on the order links are found in,
so the groups of a grown dataset are those of its earlier part with only the new photos linked
in: ``link`` takes the earlier part's heads and looks up each new photo in a sorted per-band
index of the earlier hashes (binary search) and in a dict of the new ones. Same groups as
linking everything from scratch (tests/unit/test_quality_checks.py checks both ways agree).
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


def _heads(parent: np.ndarray) -> np.ndarray:
    """Each index's root; parents always point to a smaller index, so pointer jumping ends."""
    while True:
        up = parent[parent]
        if np.array_equal(up, parent):
            return parent
        parent = up


def link(hashes: np.ndarray, heads: np.ndarray, distance: int) -> np.ndarray:
    """The head (index of the earliest member) of every hash's group, in dataset order.

    ``hashes``: int64 perceptual hashes in dataset order. ``heads``: what this function returned
    for a prefix of them (empty to start from scratch); only the rest are looked up.
    """
    done, total = len(heads), len(hashes)
    bands = _bands(distance)
    masks = [(1 << (hi - lo)) - 1 for lo, hi in bands]
    values = hashes.tolist()
    parent = [int(h) for h in heads] + list(range(done, total))
    earlier = []  # per band: the earlier hashes' band keys, sorted, and where each came from
    for (lo, _), mask in zip(bands, masks, strict=True):
        keys = (hashes[:done] >> lo) & mask
        order = np.argsort(keys, kind="stable")
        earlier.append((keys[order], order))
    new_index: list[dict[int, list[int]]] = [defaultdict(list) for _ in bands]

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(done, total):
        value = values[i]
        keys = [(value >> lo) & mask for (lo, _), mask in zip(bands, masks, strict=True)]
        candidates: set[int] = set()
        for (sorted_keys, order), band, key in zip(earlier, new_index, keys, strict=True):
            if done:
                first, end = sorted_keys.searchsorted(key, "left"), sorted_keys.searchsorted(
                    key, "right")
                if first < end:
                    candidates.update(order[first:end].tolist())
            candidates.update(band[key])
        for j in candidates:
            if (value ^ values[j]).bit_count() <= distance:
                a, b = root(i), root(j)
                parent[max(a, b)] = min(a, b)  # the earlier image stays the root
        for band, key in zip(new_index, keys, strict=True):
            band[key].append(i)
    return _heads(np.array(parent, dtype=np.int64))


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
