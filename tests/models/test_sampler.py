"""Sampler: never a training positive, only training items, uniform, deterministic, batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from vlmrec.training.data import SplitData, from_frame, load_interactions
from vlmrec.training.sampler import NegativeSampler


def _toy() -> SplitData:
    # Items 0..9; item 9 appears only in test, so it must never be sampled as a negative.
    rows = [(u, i, "train") for u in range(20) for i in range(u % 3, 9, 3)]
    rows += [(u, 9, "test") for u in range(20)] + [(u, (u + 1) % 9, "valid") for u in range(20)]
    return from_frame(pd.DataFrame(rows, columns=["user_id", "item_id", "split"]))


def _epoch_arrays(sampler: NegativeSampler) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    batches = list(sampler.epoch())
    return tuple(torch.cat([b[j] for b in batches]).numpy() for j in range(3))


def test_negatives_are_train_items_outside_history() -> None:
    data = _toy()
    sampler = NegativeSampler(data, batch_size=7, seed=1)
    history = set(zip(data.train_users.tolist(), data.train_items.tolist()))
    pool = set(data.all_items.tolist())
    assert 9 not in pool
    for _ in range(5):
        users, pos, neg = _epoch_arrays(sampler)
        assert sorted(zip(users.tolist(), pos.tolist())) == sorted(history)  # every train row once
        assert all((u, n) not in history for u, n in zip(users.tolist(), neg.tolist()))
        assert set(neg.tolist()) <= pool


def test_batches_and_shuffle() -> None:
    data = _toy()
    sampler = NegativeSampler(data, batch_size=7, seed=1)
    sizes = [len(b[0]) for b in sampler.epoch()]
    assert sizes[:-1] == [7] * (len(sizes) - 1) and sum(sizes) == len(data.train_users)
    assert len(sampler) == len(sizes)
    first, second = _epoch_arrays(sampler)[1], _epoch_arrays(sampler)[1]
    assert not np.array_equal(first, second)  # reshuffled each epoch


def test_deterministic_for_a_seed() -> None:
    data = _toy()
    a, b, c = (NegativeSampler(data, 5, seed) for seed in (3, 3, 4))
    for _ in range(3):
        ea, eb, ec = _epoch_arrays(a), _epoch_arrays(b), _epoch_arrays(c)
        for x, y in zip(ea, eb):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(ea[2], ec[2])


def test_uniform_over_allowed_items() -> None:
    # One user with history {0}; pool {0..4}: negatives should be uniform over {1, 2, 3, 4}.
    frame = pd.DataFrame({"user_id": [0] * 1 + [1] * 4, "item_id": [0, 1, 2, 3, 4], "split": ["train"] * 5})
    sampler = NegativeSampler(from_frame(frame), batch_size=10, seed=0)
    neg = sampler.sample_negatives(np.zeros(40_000, dtype=np.int64))
    counts = np.bincount(neg, minlength=5)
    assert counts[0] == 0
    expected = 10_000
    # chi-square with 3 dof: 16.3 is the 0.999 quantile
    chi2 = ((counts[1:] - expected) ** 2 / expected).sum()
    assert chi2 < 16.3


def test_user_with_every_item_is_an_error() -> None:
    frame = pd.DataFrame({"user_id": [0, 0, 1], "item_id": [0, 1, 0], "split": ["train"] * 3})
    with pytest.raises(ValueError, match="user 0 has interacted with all 2"):
        NegativeSampler(from_frame(frame), batch_size=2, seed=0)


def test_real_baby_sample(baby_inter_path) -> None:
    data = load_interactions(baby_inter_path)
    sampler = NegativeSampler(data, batch_size=2048, seed=999)
    users, pos, neg = _epoch_arrays(sampler)
    assert len(users) == len(data.train_users)
    assert not sampler.in_history(users, neg).any()
    assert np.isin(neg, data.all_items).all()
