"""Evaluation slices: consistent with the overall metrics and with a per-user loop reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vlmrec.evaluation.metrics import RankingEvaluator
from vlmrec.evaluation.slices import (
    compute_slices,
    mean_slices,
    share_buckets,
    slice_config,
    slice_rows,
)

TOPK = (5, 10, 20)
N_USERS, N_ITEMS = 60, 80


def _setup(seed: int = 0):
    rng = np.random.default_rng(seed)
    # Skewed popularity, so the buckets differ.
    weights = 1.0 / np.arange(1, N_ITEMS + 1) ** 0.8
    weights /= weights.sum()
    users, items, labels = [], [], []
    for u in range(N_USERS):
        chosen = rng.choice(N_ITEMS, size=rng.integers(6, 15), replace=False, p=weights)
        for position, item in enumerate(chosen):
            users.append(u)
            items.append(item)
            labels.append("test" if position < 3 else "train")
    users, items, labels = np.array(users), np.array(items), np.array(labels)
    train = (users[labels == "train"], items[labels == "train"])
    test = (users[labels == "test"], items[labels == "test"])
    scores = torch.as_tensor(rng.normal(size=(N_USERS, N_ITEMS)), dtype=torch.float32)
    evaluator = RankingEvaluator(N_ITEMS, train, {"test": test}, topk=TOPK, batch_size=17)
    result = evaluator.evaluate(lambda u: scores[u])["test"]
    return result, train, test


def test_top_items_are_returned_and_consistent_with_hits() -> None:
    result, _, test = _setup()
    assert result.top_items.shape == (len(result.users), max(TOPK))
    positives = {(u, i) for u, i in zip(*test)}
    hits = [sum((u, i) in positives for i in row[:10]) for u, row in zip(result.users, result.top_items)]
    pos_len = np.array([np.sum(test[0] == u) for u in result.users])
    np.testing.assert_allclose(np.array(hits) / pos_len, result.per_user["recall@10"])


def test_one_bucket_reproduces_the_overall_metrics() -> None:
    result, train, test = _setup()
    config = {
        "item_popularity": {"edges": [], "names": ["all"]},
        "user_activity": {"edges": [], "names": ["all"]},
    }
    slices = compute_slices(result, train, test, N_USERS, N_ITEMS, TOPK, config)
    overall = result.mean()
    for slicing in ("item_popularity", "user_activity"):
        bucket = slices[slicing]["buckets"]["all"]
        for k in TOPK:
            assert bucket[f"recall@{k}"] == pytest.approx(overall[f"recall@{k}"])
            assert bucket[f"ndcg@{k}"] == pytest.approx(overall[f"ndcg@{k}"])


def test_item_contributions_sum_to_recall_and_user_buckets_average_back() -> None:
    result, train, test = _setup(1)
    slices = compute_slices(result, train, test, N_USERS, N_ITEMS, TOPK)
    overall = result.mean()
    items = slices["item_popularity"]["buckets"]
    users = slices["user_activity"]["buckets"]
    assert list(items) == ["head", "torso", "tail"]
    assert sum(b["n_items"] for b in items.values()) == N_ITEMS
    assert sum(b["n_targets"] for b in items.values()) == len(test[0])
    assert sum(b["n_users"] for b in users.values()) == len(result.users)
    for k in TOPK:
        assert sum(b[f"recall_contrib@{k}"] for b in items.values()) == pytest.approx(overall[f"recall@{k}"])
        for metric in ("recall", "ndcg"):
            weighted = sum(b["n_users"] * b[f"{metric}@{k}"] for b in users.values()) / len(result.users)
            assert weighted == pytest.approx(overall[f"{metric}@{k}"])


def test_item_bucket_recall_and_ndcg_match_a_per_user_loop() -> None:
    result, train, test = _setup(2)
    slices = compute_slices(result, train, test, N_USERS, N_ITEMS, TOPK)
    counts = np.bincount(np.unique(np.stack(train, 1), axis=0)[:, 1], minlength=N_ITEMS)
    bucket_of = share_buckets(counts, [0.2, 0.6])
    for b, name in enumerate(["head", "torso", "tail"]):
        recalls, ndcgs = [], []
        for u, top in zip(result.users, result.top_items):
            targets = [i for uu, i in zip(*test) if uu == u and bucket_of[i] == b]
            if not targets:
                continue
            top10 = list(top[:10])
            gains = [1.0 / math.log2(r + 2) for r, i in enumerate(top10) if i in targets]
            ideal = sum(1.0 / math.log2(r + 2) for r in range(min(len(targets), 10)))
            recalls.append(len(gains) / len(targets))
            ndcgs.append(sum(gains) / ideal)
        entry = slices["item_popularity"]["buckets"][name]
        assert entry["n_users"] == len(recalls)
        assert entry["recall@10"] == pytest.approx(np.mean(recalls))
        assert entry["ndcg@10"] == pytest.approx(np.mean(ndcgs))


def test_share_buckets_cut_by_rank_ties_to_lower_id() -> None:
    counts = np.array([5, 9, 1, 5, 0, 7, 2, 3, 3, 8])
    buckets = share_buckets(counts, [0.2, 0.6])
    # ranks: 1(9) 9(8) | 5(7) 0(5) 3(5) 7(3) | 8(3) 6(2) 2(1) 4(0)
    np.testing.assert_array_equal(buckets, [1, 0, 2, 1, 2, 1, 2, 1, 2, 0])


def test_slice_config_checks_edges_and_names() -> None:
    assert slice_config(None)["item_popularity"]["names"] == ["head", "torso", "tail"]
    with pytest.raises(ValueError, match="edges"):
        slice_config({"item_popularity": {"edges": [0.6, 0.2]}})
    with pytest.raises(ValueError, match="names"):
        slice_config({"user_activity": {"edges": [0.5]}})
    with pytest.raises(ValueError, match="unknown slicing"):
        slice_config({"genre": {}})


def test_mean_slices_and_tidy_rows() -> None:
    result, train, test = _setup(3)
    a = compute_slices(result, train, test, N_USERS, N_ITEMS, TOPK)
    doubled = mean_slices([a, a])
    assert doubled == a
    rows = slice_rows({"dataset": "d", "model": "m", "feature": "f", "slices": a})
    assert {r["slicing"] for r in rows} == {"item_popularity", "user_activity"}
    assert {r["metric"] for r in rows} == {"recall", "ndcg", "recall_contrib"}
    assert len(rows) == 3 * 3 * len(TOPK) + 3 * 2 * len(TOPK)
