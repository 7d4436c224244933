"""Splits: MMRec's per-user counts (checked against the real released Baby split), determinism,
and the ordering guarantees of the temporal splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmrec.data.split import (
    TEST,
    TRAIN,
    VALID,
    global_temporal,
    per_user_counts,
    per_user_random,
    per_user_temporal,
    split_labels,
)


@pytest.mark.parametrize(
    ("n", "expected"),
    [(5, (3, 1, 1)), (9, (7, 1, 1)), (10, (8, 1, 1)), (15, (12, 1, 2)), (20, (16, 2, 2)), (37, (30, 3, 4))],
)
def test_mmrec_counts_examples(n: int, expected: tuple[int, int, int]) -> None:
    train, valid, test = per_user_counts(np.array([n]))
    assert (int(train[0]), int(valid[0]), int(test[0])) == expected


@given(st.integers(3, 5000))
def test_counts_match_pythons_int_rule(n: int) -> None:
    train, valid, test = (int(x[0]) for x in per_user_counts(np.array([n])))
    if n < 10:
        assert (train, valid, test) == (n - 2, 1, 1)
    else:
        held = int(0.2 * n)  # exactly MMRec's notebook expression
        assert (valid, test) == (held // 2, held - held // 2)
    assert train + valid + test == n and valid >= 1 and test >= valid


def _users(sizes: list[int]) -> np.ndarray:
    users = np.repeat(np.arange(len(sizes)), sizes)
    return np.random.default_rng(0).permutation(users)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(3, 40), min_size=1, max_size=30), st.integers(0, 2**31))
def test_per_user_random_counts_and_determinism(sizes: list[int], seed: int) -> None:
    users = _users(sizes)
    labels = per_user_random(users, seed)
    assert np.array_equal(labels, per_user_random(users, seed))
    frame = pd.DataFrame({"user": users, "label": labels})
    counts = frame.groupby("user")["label"].value_counts().unstack(fill_value=0)
    train, valid, test = per_user_counts(np.array(sizes))
    for user, n in enumerate(sizes):
        row = counts.loc[user]
        assert (row.get(TRAIN, 0), row.get(VALID, 0), row.get(TEST, 0)) == (
            train[user],
            valid[user],
            test[user],
        )
        assert n == train[user] + valid[user] + test[user]


def test_per_user_random_depends_on_seed() -> None:
    users = _users([30] * 20)
    assert not np.array_equal(per_user_random(users, 1), per_user_random(users, 2))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 20), st.integers(0, 8)), min_size=1, max_size=150)
)
def test_per_user_temporal_orders_by_time(rows: list[tuple[int, int, int]]) -> None:
    users = np.array([r[0] for r in rows])
    items = np.array([r[1] for r in rows])
    ts = np.array([r[2] for r in rows])
    labels = per_user_temporal(users, ts, items)
    assert np.array_equal(labels, per_user_temporal(users, ts, items))
    for user in np.unique(users):
        mine = users == user
        by_label = {lab: ts[mine & (labels == lab)] for lab in (TRAIN, VALID, TEST)}
        if len(by_label[TRAIN]) and len(by_label[VALID]):
            assert by_label[TRAIN].max() <= by_label[VALID].min()
        if len(by_label[VALID]) and len(by_label[TEST]):
            assert by_label[VALID].max() <= by_label[TEST].min()


def test_global_temporal_ties_go_to_later_split() -> None:
    ts = np.array([1, 2, 3, 4, 5, 6, 7, 8, 8, 8])
    labels = global_temporal(ts)
    q8, q9 = np.quantile(ts, [0.8, 0.9])
    assert np.all(labels[ts < q8] == TRAIN)
    assert np.all(labels[ts >= q9] == TEST)
    assert np.all(labels[ts == 8] == labels[ts == 8][0])  # equal timestamps never straddle a cut


def test_unknown_method_names_the_key() -> None:
    with pytest.raises(ValueError, match="split.method"):
        split_labels("random", np.zeros(3), np.zeros(3), np.zeros(3), 0)


def test_mmrec_counts_reproduce_the_released_baby_split(baby_inter_path) -> None:  # noqa: ANN001
    """Our rule, applied to each user's interaction count, gives that user's released sizes."""
    released = pd.read_csv(baby_inter_path, sep="\t")
    sizes = released.groupby("userID")["x_label"].value_counts().unstack(fill_value=0)
    n = sizes.sum(axis=1).to_numpy()
    train, valid, test = per_user_counts(n)
    assert np.array_equal(train, sizes[0].to_numpy())
    assert np.array_equal(valid, sizes[1].to_numpy())
    assert np.array_equal(test, sizes[2].to_numpy())
    # The sample's totals as documented in ../shared/data/amazon-baby-mmrec/SOURCE.md.
    assert (int(train.sum()), int(valid.sum()), int(test.sum())) == (72_296, 11_250, 12_142)

    # Our seeded shuffle split of the same rows yields the same per-user sizes.
    labels = per_user_random(released["userID"].to_numpy(), seed=999)
    ours = pd.DataFrame({"u": released["userID"], "l": labels}).groupby("u")["l"].value_counts()
    assert np.array_equal(ours.unstack(fill_value=0)[[0, 1, 2]].to_numpy(), sizes[[0, 1, 2]].to_numpy())
