"""Metrics: MMRec's definitions by hand, a slow reference on random data, masking, batching."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vlmrec.evaluation.metrics import RankingEvaluator, metric_keys, metrics_from_hits, parse_metric_key


def _log2(x: float) -> float:
    return math.log(x, 2)


def test_worked_example_by_hand() -> None:
    # user A: 3 positives, hits at ranks 1 and 4; user B: 1 positive, hit at rank 2.
    hits = np.zeros((2, 5), dtype=bool)
    hits[0, [0, 3]] = True
    hits[1, 1] = True
    got = metrics_from_hits(hits, np.array([3, 1]), [5])
    recall = (2 / 3 + 1 / 1) / 2
    ndcg_a = (1 / _log2(2) + 1 / _log2(5)) / (1 / _log2(2) + 1 / _log2(3) + 1 / _log2(4))
    ndcg_b = (1 / _log2(3)) / (1 / _log2(2))
    precision = (2 / 5 + 1 / 5) / 2
    map_a = (1 / 1 * 1 + 2 / 4 * 1) / min(3, 5)
    map_b = (1 / 2) / min(1, 5)
    assert got["recall@5"].mean() == pytest.approx(recall)
    assert got["ndcg@5"].mean() == pytest.approx((ndcg_a + ndcg_b) / 2)
    assert got["precision@5"].mean() == pytest.approx(precision)
    assert got["map@5"].mean() == pytest.approx((map_a + map_b) / 2)
    assert got["hit@5"].tolist() == [1.0, 1.0]
    # The published figures (MMRec's own functions).
    assert round(got["recall@5"].mean(), 6) == 0.833333
    assert round(got["ndcg@5"].mean(), 6) == 0.651158
    assert round(got["precision@5"].mean(), 6) == 0.3
    assert round(got["map@5"].mean(), 6) == 0.5


def _reference(top: list[list[int]], positives: list[set[int]], pos_len: list[int], k: int) -> dict:
    """Slow, loop-per-user transcription of the definitions."""
    out: dict[str, list] = {m: [] for m in ("recall", "ndcg", "precision", "map", "hit")}
    for ranked, pos, n_pos in zip(top, positives, pos_len):
        rel = [1 if item in pos else 0 for item in ranked[:k]]
        n_hits = sum(rel)
        out["recall"].append(n_hits / n_pos)
        out["precision"].append(n_hits / k)
        dcg = sum(r / _log2(j + 2) for j, r in enumerate(rel))
        idcg = sum(1 / _log2(j + 2) for j in range(min(n_pos, k)))
        out["ndcg"].append(dcg / idcg)
        ap = sum(sum(rel[: j + 1]) / (j + 1) * rel[j] for j in range(k))
        out["map"].append(ap / min(n_pos, k))
        out["hit"].append(1.0 if n_hits else 0.0)
    return out


def test_evaluator_matches_slow_reference_on_random_data() -> None:
    rng = np.random.default_rng(7)
    n_users, n_items, topk = 60, 40, [1, 3, 10]
    train_u, train_i = rng.integers(0, n_users, 300), rng.integers(0, n_items, 300)
    test_u, test_i = rng.integers(0, n_users, 120), rng.integers(0, n_items, 120)
    scores = torch.randn(n_users, n_items, generator=torch.Generator().manual_seed(3))
    evaluator = RankingEvaluator(n_items, (train_u, train_i), {"test": (test_u, test_i)}, topk, batch_size=7)
    result = evaluator.evaluate(lambda users: scores[users].clone())["test"]
    expected_users = np.unique(test_u)
    assert result.users.tolist() == expected_users.tolist()
    top, positives, pos_len = [], [], []
    for user in expected_users:
        row = scores[user].clone()
        row[train_i[train_u == user]] = -float("inf")
        top.append(torch.argsort(row, descending=True).tolist())
        positives.append(set(test_i[test_u == user].tolist()))
        pos_len.append(int((test_u == user).sum()))  # rows in the split (duplicates count), as MMRec
    for k in topk:
        ref = _reference(top, positives, pos_len, k)
        for metric, values in ref.items():
            np.testing.assert_allclose(result.per_user[f"{metric}@{k}"], values, rtol=1e-12, atol=1e-12)


def _single_user_evaluator(mask_valid: bool) -> RankingEvaluator:
    # 6 items, user 0: train {0}, valid {1}, test {2}. Scores: item 0 > 1 > 2 > others.
    return RankingEvaluator(
        6,
        (np.array([0]), np.array([0])),
        {"valid": (np.array([0]), np.array([1])), "test": (np.array([0]), np.array([2]))},
        topk=[1, 2],
        mask_valid_at_test=mask_valid,
    )


def _scores(users: torch.Tensor) -> torch.Tensor:
    return torch.tensor([[6.0, 5.0, 4.0, 3.0, 2.0, 1.0]]).expand(len(users), -1).clone()


def test_train_items_are_masked() -> None:
    result = _single_user_evaluator(False).evaluate(_scores)
    # Without masking item 0 would be rank 1; masked, the valid item 1 is rank 1.
    assert result["valid"].per_user["recall@1"].tolist() == [1.0]


def test_valid_items_stay_candidates_at_test_by_default() -> None:
    result = _single_user_evaluator(False).evaluate(_scores)
    assert result["test"].per_user["recall@1"].tolist() == [0.0]  # item 1 (valid) outranks item 2
    assert result["test"].per_user["ndcg@2"].tolist() == pytest.approx([1 / _log2(3)])


def test_mask_valid_at_test_option() -> None:
    result = _single_user_evaluator(True).evaluate(_scores)
    assert result["test"].per_user["recall@1"].tolist() == [1.0]
    assert result["valid"].per_user["recall@1"].tolist() == [1.0]  # valid ranking unaffected


def test_batch_size_does_not_change_results() -> None:
    rng = np.random.default_rng(1)
    n_users, n_items = 50, 30
    args = ((rng.integers(0, n_users, 200), rng.integers(0, n_items, 200)),)
    targets = {
        "valid": (rng.integers(0, n_users, 40), rng.integers(0, n_items, 40)),
        "test": (rng.integers(0, n_users, 45), rng.integers(0, n_items, 45)),
    }
    scores = torch.rand(n_users, n_items, generator=torch.Generator().manual_seed(0))
    results = [
        RankingEvaluator(n_items, *args, targets, [5, 10], batch_size=b, mask_valid_at_test=True).evaluate(
            lambda u: scores[u].clone()
        )
        for b in (1, 8, 1000)
    ]
    for other in results[1:]:
        for split in ("valid", "test"):
            assert other[split].users.tolist() == results[0][split].users.tolist()
            for key, values in results[0][split].per_user.items():
                np.testing.assert_array_equal(other[split].per_user[key], values)


def test_metric_keys_and_parsing() -> None:
    assert metric_keys([20, 5])[:2] == ["recall@5", "recall@20"]
    assert parse_metric_key("ndcg@10") == ("ndcg", 10)
    for bad in ("recall", "auc@10", "recall@x", "recall@0"):
        with pytest.raises(ValueError, match="metric key"):
            parse_metric_key(bad)


def test_topk_larger_than_catalogue_is_an_error() -> None:
    with pytest.raises(ValueError, match="training.topk"):
        RankingEvaluator(5, (np.array([0]), np.array([0])), {"test": (np.array([0]), np.array([1]))}, [10])
