"""The cold-start protocol: the split's properties, the cold-only ranking and the ID-only marking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from vlmrec.data.split import TEST, TRAIN, VALID, cold_item_split, per_user_random
from vlmrec.diagnostics.cold_start import cold_markdown, make_cold_split
from vlmrec.diagnostics.cold_train import cold_evaluator
from vlmrec.models.registry import get_model_class
from vlmrec.training.trainer import TrainSettings
from vlmrec.utils.io import read_json


def _rows(seed: int = 0, n_users: int = 120, n_items: int = 50) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        chosen = rng.choice(n_items, size=rng.integers(5, 12), replace=False)
        users += [u] * len(chosen)
        items += list(chosen)
    return np.array(users), np.array(items)


def test_no_cold_item_in_training_and_every_cold_row_in_valid_or_test() -> None:
    users, items = _rows()
    labels = per_user_random(users, seed=1)
    new, flags = cold_item_split(items, labels, 0.2, seed=7)
    cold_ids = np.flatnonzero(flags)
    assert len(cold_ids) == 10  # round(0.2 * 50)
    cold_rows = flags[items] > 0
    assert not (new[cold_rows] == TRAIN).any()
    assert set(np.unique(new[cold_rows])) <= {VALID, TEST}
    # valid-cold items' rows all go to valid, test-cold items' rows all to test: disjoint item sets
    assert (new[flags[items] == VALID] == VALID).all()
    assert (new[flags[items] == TEST] == TEST).all()
    assert (flags == VALID).sum() == 5 and (flags == TEST).sum() == 5
    # warm items keep their labels
    np.testing.assert_array_equal(new[~cold_rows], labels[~cold_rows])


def test_cold_split_is_seeded() -> None:
    users, items = _rows(1)
    labels = per_user_random(users, seed=1)
    a = cold_item_split(items, labels, 0.3, seed=3)
    b = cold_item_split(items, labels, 0.3, seed=3)
    c = cold_item_split(items, labels, 0.3, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_cold_split_off_and_bad_fraction() -> None:
    users, items = _rows(2)
    labels = per_user_random(users, seed=1)
    new, flags = cold_item_split(items, labels, 0.0, seed=1)
    np.testing.assert_array_equal(new, labels)
    assert not flags.any()
    with pytest.raises(ValueError, match="split.cold_items"):
        cold_item_split(items, labels, 1.0, seed=1)


def _frame(tmp_path, fraction: float = 0.3):
    users, items = _rows(3)
    labels = per_user_random(users, seed=1)
    frame = pd.DataFrame(
        {
            "user_id": users,
            "item_id": items,
            "rating": np.ones(len(users), np.float32),
            "timestamp": np.arange(len(users)),
            "split": np.array(["train", "valid", "test"])[labels],
        }
    )
    frame.to_parquet(tmp_path / "interactions.parquet")
    stats = make_cold_split(
        tmp_path / "interactions.parquet", tmp_path / "cold.parquet", tmp_path / "cold.json", fraction, 5
    )
    return pd.read_parquet(tmp_path / "cold.parquet"), stats


def test_make_cold_split_files(tmp_path) -> None:
    cold, stats = _frame(tmp_path)
    assert stats == read_json(tmp_path / "cold.json")
    assert stats["valid_cold_items"] + stats["test_cold_items"] == 15
    assert not ((cold["cold"] > 0) & (cold["split"] == "train")).any()
    assert sum(stats["split"].values()) == len(cold)


def test_cold_evaluator_ranks_only_cold_items(tmp_path) -> None:
    cold, _ = _frame(tmp_path)
    settings = TrainSettings(topk=(5, 10), valid_metric="recall@10")
    data, evaluator, flags = cold_evaluator(cold, 50, settings, torch.device("cpu"))
    warm = np.flatnonzero(flags == 0)
    # A score function that prefers warm items: they must still never be ranked.
    scores = torch.zeros(data.n_users, 50)
    scores[:, torch.as_tensor(warm)] = 100.0
    results = evaluator.evaluate(lambda u: scores[u] + torch.rand(len(u), 50))
    for name, code in (("valid", 1), ("test", 2)):
        top = results[name].top_items
        assert np.isin(top[:, :5], np.flatnonzero(flags > 0)).all()
        users, items = data.split(name)
        expected_users = np.unique(users[flags[items] == code])
        np.testing.assert_array_equal(results[name].users, expected_users)


def test_perfect_scores_on_cold_items_give_recall_one(tmp_path) -> None:
    cold, _ = _frame(tmp_path)
    settings = TrainSettings(topk=(10,), valid_metric="recall@10")
    data, evaluator, flags = cold_evaluator(cold, 50, settings, torch.device("cpu"))
    users, items = data.split("test")
    keep = flags[items] == 2
    truth = torch.zeros(data.n_users, 50)
    truth[torch.as_tensor(users[keep]), torch.as_tensor(items[keep])] = 1.0
    result = evaluator.evaluate(lambda u: truth[u])["test"]
    per_user_pos = np.bincount(users[keep], minlength=data.n_users)[result.users]
    expected = np.minimum(per_user_pos, 10) / per_user_pos
    np.testing.assert_allclose(result.per_user["recall@10"], expected)


def test_models_declare_whether_they_score_cold_items() -> None:
    assert get_model_class("freedom").scores_cold_items
    assert get_model_class("lattice").scores_cold_items
    assert not get_model_class("lightgcn").scores_cold_items


def test_cold_markdown_marks_id_only_models() -> None:
    frame = pd.DataFrame(
        [
            {"dataset": "d", "model": "freedom", "feature": "textual", "applicable": True, "metric": "recall"}
            | {"k": 20, "value": 0.3, "std": 0.01, "n_seeds": 2, "status": "ok"},
            {"dataset": "d", "model": "lightgcn", "feature": "id", "applicable": False, "metric": ""}
            | {"k": 0, "value": np.nan, "std": np.nan, "n_seeds": 0, "status": "not_applicable"},
        ]
    )
    text = cold_markdown(frame, ["recall"], [20])
    assert "| FREEDOM | Textual | 0.3000 ± 0.0100 |" in text
    assert "| LightGCN | – | n/a (ID only) |" in text
