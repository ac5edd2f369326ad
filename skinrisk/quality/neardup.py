"""Near-duplicate photos across the whole dataset, by perceptual-hash Hamming distance.

Indexed, not all-pairs: the 63 hash bits are cut into ``distance + 1`` bands, and two hashes
within ``distance`` bits agree exactly on at least one band (pigeonhole), so only photos that
share a band are compared. Cost grows with the dataset, not with its square.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

BITS = 63


@dataclass(frozen=True)
class DupInfo:
    group: str  # the group's first image (every member carries it): the split keeps it whole
    is_first: bool


def _bands(distance: int) -> list[tuple[int, int]]:
    count = distance + 1
    edges = [round(i * BITS / count) for i in range(count + 1)]
    return [(edges[i], edges[i + 1]) for i in range(count)]


def group_near_duplicates(hashes: Sequence[tuple[str, int]], distance: int
                          ) -> dict[str, DupInfo]:
    """``hashes`` in dataset order (image_id, phash); earlier images head their groups."""
    bands = _bands(distance)
    index: list[dict[int, list[int]]] = [defaultdict(list) for _ in bands]
    parent = list(range(len(hashes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (_, value) in enumerate(hashes):
        keys = [(value >> lo) & ((1 << (hi - lo)) - 1) for lo, hi in bands]
        candidates = {j for band, key in zip(index, keys, strict=True) for j in band[key]}
        for j in candidates:
            if (value ^ hashes[j][1]).bit_count() <= distance:
                a, b = root(i), root(j)
                parent[max(a, b)] = min(a, b)  # the earlier image stays the root
        for band, key in zip(index, keys, strict=True):
            band[key].append(i)
    out = {}
    for i, (image_id, _) in enumerate(hashes):
        head = hashes[root(i)][0]
        out[image_id] = DupInfo(group=head, is_first=head == image_id)
    return out
