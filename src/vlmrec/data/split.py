"""Train/valid/test splits.

`per_user_random` is MMRec's `1splitting` rule, the one behind the released data the paper's
numbers come from: every user's rows in a random order; a user with n < 10 rows gets n-2 train,
1 valid, 1 test; otherwise int(0.2 n) rows are held out, int(0.2 n) // 2 valid and the rest test.
MMRec shuffles without a seed; we shuffle with `split.seed` so the split is reproducible.
`per_user_temporal` uses the same counts on each user's rows ordered by time (ties broken by
item id, then by input order). `global_temporal` cuts at the 0.8 and 0.9 timestamp quantiles,
ties going to the later split (MMRec's `0rating2inter`).
"""

from __future__ import annotations

import numpy as np

TRAIN, VALID, TEST = 0, 1, 2
SPLIT_NAMES = np.array(["train", "valid", "test"], dtype=object)
METHODS = ("per_user_random", "per_user_temporal", "global_temporal")


def per_user_counts(n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, valid, test) sizes for users with n interactions each (MMRec's rule).

    Users with fewer than 3 interactions (impossible after a 5-core) keep everything in train,
    so no user has a negative train count.
    """
    n = np.asarray(n, dtype=np.int64)
    # Same IEEE double product as Python's int(0.2 * n) in MMRec's notebook.
    held_out = (0.2 * n.astype(np.float64)).astype(np.int64)
    valid = held_out // 2
    test = held_out - valid
    small = n < 10
    valid = np.where(small, 1, valid)
    test = np.where(small, 1, test)
    tiny = n < 3
    valid = np.where(tiny, 0, valid)
    test = np.where(tiny, 0, test)
    train = n - valid - test
    return train, valid, test


def _labels_from_order(users: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Label rows given `order`, a permutation that groups rows by user in the wanted sequence."""
    sorted_users = users[order]
    n_rows = len(users)
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    sizes = np.diff(np.r_[starts, n_rows])
    rank = np.arange(n_rows) - np.repeat(starts, sizes)
    train, valid, _ = per_user_counts(sizes)
    train_r = np.repeat(train, sizes)
    valid_r = np.repeat(valid, sizes)
    sorted_labels = np.where(rank < train_r, TRAIN, np.where(rank < train_r + valid_r, VALID, TEST))
    labels = np.empty(n_rows, dtype=np.int8)
    labels[order] = sorted_labels
    return labels


def per_user_random(users: np.ndarray, seed: int) -> np.ndarray:
    """Labels (0/1/2) per row: each user's rows shuffled with `seed`, then MMRec's counts."""
    users = np.asarray(users)
    if len(users) == 0:
        return np.empty(0, dtype=np.int8)
    keys = np.random.default_rng(seed).random(len(users))
    order = np.lexsort((keys, users))
    return _labels_from_order(users, order)


def per_user_temporal(users: np.ndarray, timestamps: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Labels per row: each user's rows by time, oldest in train; ties by item id, then row order."""
    users = np.asarray(users)
    if len(users) == 0:
        return np.empty(0, dtype=np.int8)
    order = np.lexsort((np.arange(len(users)), np.asarray(items), np.asarray(timestamps), users))
    return _labels_from_order(users, order)


def global_temporal(timestamps: np.ndarray, quantiles: tuple[float, float] = (0.8, 0.9)) -> np.ndarray:
    """Labels per row: ts < q0.8 train, q0.8 <= ts < q0.9 valid, ts >= q0.9 test."""
    ts = np.asarray(timestamps, dtype=np.float64)
    if len(ts) == 0:
        return np.empty(0, dtype=np.int8)
    q_valid, q_test = np.quantile(ts, quantiles)
    return np.where(ts < q_valid, TRAIN, np.where(ts < q_test, VALID, TEST)).astype(np.int8)


def split_labels(
    method: str, users: np.ndarray, items: np.ndarray, timestamps: np.ndarray, seed: int
) -> np.ndarray:
    """Dispatch on `split.method`; returns int8 labels 0 train / 1 valid / 2 test."""
    if method == "per_user_random":
        return per_user_random(users, seed)
    if method == "per_user_temporal":
        return per_user_temporal(users, timestamps, items)
    if method == "global_temporal":
        return global_temporal(timestamps)
    raise ValueError(f"split.method: unknown method {method!r}; choose one of {', '.join(METHODS)}")


# ----------------------------------------------------------------------------------------- cold start
def cold_item_split(
    items: np.ndarray, labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The cold-start protocol (``split.cold_items``): hold a seeded share of items out of training.

    ``round(fraction * n)`` of the items that occur in ``items`` are drawn with ``seed``; half of them
    (rounded down) become *validation-cold* items, the rest *test-cold* items, and **all** rows of a
    validation-cold (test-cold) item go to valid (test). Every other row keeps its label in
    ``labels``, so the warm items' split is the normal one. No cold item has a training row, so only
    content (an item-item graph over features) can place it; validation and test use disjoint
    item sets, so early stopping never sees a test item.

    Returns (new labels 0/1/2, cold flag per distinct item id 0..max(items): 0 warm, 1 valid-cold,
    2 test-cold).
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"split.cold_items: must be a fraction in [0, 1), got {fraction}")
    items = np.asarray(items, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int8).copy()
    n_ids = int(items.max()) + 1 if len(items) else 0
    present = np.unique(items)
    n_cold = int(round(fraction * len(present)))
    flags = np.zeros(n_ids, dtype=np.int8)
    if n_cold == 0:
        return labels, flags
    cold = np.random.default_rng(seed).permutation(present)[:n_cold]
    n_valid = n_cold // 2
    flags[cold[:n_valid]] = VALID
    flags[cold[n_valid:]] = TEST
    row_flags = flags[items]
    labels[row_flags == VALID] = VALID
    labels[row_flags == TEST] = TEST
    return labels, flags
