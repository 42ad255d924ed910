"""Ids in the reference's shape, drawn uniformly."""

from __future__ import annotations

import re
from collections import Counter

from caw_lab.ids import ALPHABET, PREFIXES, new_id


def test_every_kind_has_the_reference_shape() -> None:
    for kind, prefix in PREFIXES.items():
        assert re.fullmatch(re.escape(prefix) + "[0-9a-z]{12}", new_id(kind))


def test_every_position_draws_from_the_whole_alphabet_evenly() -> None:
    drawn = [new_id("task")[3:] for _ in range(7200)]
    assert len(set(drawn)) == len(drawn)
    for position in range(12):
        counts = Counter(chars[position] for chars in drawn)
        assert set(counts) == set(ALPHABET)
        assert max(counts.values()) < 2 * min(counts.values()), f"position {position} is skewed: {counts}"
