"""Near-duplicate groups: every member within the distance of its head, never chained, and the
same groups whether a grown dataset is grouped at once or batch by batch."""

from __future__ import annotations

import random

import numpy as np
import pytest

from skinrisk.quality.neardup import group_near_duplicates, link

NONE = np.empty(0, np.int64)


def _reference(hashes: list[int], distance: int) -> list[int]:
    """All-pairs reading of the rule: in order, each photo joins the earliest head within the
    distance, else heads a group of its own."""
    heads: list[int] = []
    for i, h in enumerate(hashes):
        within = [j for j in range(i) if heads[j] == j and (h ^ hashes[j]).bit_count() <= distance]
        heads.append(within[0] if within else i)
    return heads


def _near_copies(rng: random.Random, count: int, flips: int) -> list[int]:
    """Chains of near copies: later photos often sit between earlier groups."""
    hashes: list[int] = []
    for _ in range(count):
        h = rng.choice(hashes) if hashes and rng.random() < 0.7 else rng.getrandbits(63)
        for bit in rng.sample(range(63), rng.randint(0, flips)):
            h ^= 1 << bit
        hashes.append(h)
    return hashes


@pytest.mark.parametrize("distance", [0, 3, 6])
def test_the_index_finds_what_all_pairs_finds(distance: int) -> None:
    hashes = _near_copies(random.Random(7), 150, 8)
    heads = link(np.array(hashes, np.int64), NONE, distance)
    assert heads.tolist() == _reference(hashes, distance)


@pytest.mark.parametrize("seed", range(40))
def test_linking_batch_by_batch_equals_grouping_from_scratch(seed: int) -> None:
    # A property over random datasets, distances and batch cuts (seeded: hypothesis is not in
    # the orchestrator environment, where the pure tests also run).
    rng = random.Random(seed)
    distance, cuts = rng.randint(0, 8), rng.sample(range(1, 120), rng.randint(0, 6))
    hashes = _near_copies(rng, 120, 6)
    values = np.array(hashes, dtype=np.int64)
    heads = NONE
    for end in [*sorted(set(cuts)), 120]:  # the dataset grows batch by batch
        heads = link(values[:end], heads, distance)
        assert heads.tolist() == _reference(hashes[:end], distance)
    assert heads.tolist() == link(values, NONE, distance).tolist()


def test_groups_do_not_chain() -> None:
    # 0 -> 0b11 -> 0b1111 -> 0b111111: each step 2 bits, the ends 6 bits apart.
    chain = [0, 0b11, 0b1111, 0b111111]
    heads = link(np.array(chain, np.int64), NONE, 2)
    assert heads.tolist() == [0, 0, 2, 2]
    for i, head in enumerate(heads.tolist()):
        assert (chain[i] ^ chain[head]).bit_count() <= 2


def test_a_photo_within_reach_of_two_heads_joins_the_earlier() -> None:
    a, b = 0, 0b1111  # 4 bits apart: two groups at distance 2
    heads = link(np.array([a, b], np.int64), NONE, 2)
    assert heads.tolist() == [0, 1]
    between = 0b11  # 2 bits from each; groups are never merged after the fact
    assert link(np.array([a, b, between], np.int64), heads, 2).tolist() == [0, 1, 0]


def test_near_duplicate_groups_are_headed_by_the_earliest_image() -> None:
    groups = group_near_duplicates([("a", 0b1111), ("b", 0), ("c", 0b1), ("d", 0b111 << 60)], 2)
    assert groups["b"].group == groups["c"].group == "b"
    assert groups["a"].group == "a" and groups["a"].is_first
    assert not groups["c"].is_first and groups["d"].is_first


def test_heads_from_another_dataset_are_not_a_prefix_of_this_one() -> None:
    with pytest.raises(ValueError):
        link(np.array([0, 1], np.int64), np.array([0, 1, 2], np.int64), 2)
