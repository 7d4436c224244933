"""Iterative k-core: the result is the unique maximal k-core, found like MMRec (both sets at once)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmrec.data.kcore import kcore_filter, kcore_mask

edges = st.lists(st.tuples(st.integers(0, 12), st.integers(0, 9)), min_size=0, max_size=120)


def reference_kcore(rows: list[tuple[int, int]], k: int) -> list[bool]:
    """Slow reference: remove one offending node at a time until none is left."""
    alive = [True] * len(rows)
    while True:
        users = Counter(u for (u, _), a in zip(rows, alive) if a)
        items = Counter(i for (_, i), a in zip(rows, alive) if a)
        bad_users = [u for u, c in users.items() if c < k]
        bad_items = [i for i, c in items.items() if c < k]
        if not bad_users and not bad_items:
            return alive
        if bad_users:
            alive = [a and u != bad_users[0] for (u, _), a in zip(rows, alive)]
        else:
            alive = [a and i != bad_items[0] for (_, i), a in zip(rows, alive)]


@settings(max_examples=200, deadline=None)
@given(edges, st.integers(1, 4))
def test_kcore_equals_reference_and_is_a_core(rows: list[tuple[int, int]], k: int) -> None:
    users = np.array([u for u, _ in rows], dtype=np.int64)
    items = np.array([i for _, i in rows], dtype=np.int64)
    result = kcore_mask(users, items, k)
    assert result.mask.tolist() == reference_kcore(rows, k)
    kept_u, kept_i = users[result.mask], items[result.mask]
    if len(kept_u):
        assert np.bincount(kept_u)[np.unique(kept_u)].min() >= k
        assert np.bincount(kept_i)[np.unique(kept_i)].min() >= k
    # Idempotent: filtering the core again removes nothing.
    again = kcore_mask(kept_u, kept_i, k)
    assert again.mask.all() and again.rounds == 0


def test_kcore_needs_several_rounds() -> None:
    # A chain: removing user 2 (1 row) drops item 1 below 2, which drops user 1, ...
    rows = [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 2), (3, 0), (3, 1)]
    frame = pd.DataFrame(rows, columns=["user", "item"])
    result = kcore_mask(frame["user"].to_numpy(), frame["item"].to_numpy(), 2)
    assert result.rounds >= 2
    kept = kcore_filter(frame, 2)
    assert set(kept["user"]) == {0, 1, 3} and set(kept["item"]) == {0, 1}


def test_kcore_keeps_file_order_and_rejects_bad_k() -> None:
    frame = pd.DataFrame({"user": list("bbaaab"), "item": list("xyxyxx")})
    kept = kcore_filter(frame, 2)
    assert kept["user"].tolist() == ["b", "b", "a", "a", "a", "b"]
    try:
        kcore_mask(np.zeros(1, dtype=int), np.zeros(1, dtype=int), 0)
    except ValueError as exc:
        assert "k_core" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("k=0 accepted")
