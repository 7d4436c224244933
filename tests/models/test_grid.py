"""Grid: MMRec's product order, selection on valid vs test, and the cell outputs (separate = single)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from vlmrec.cli import main as cli_main
from vlmrec.config import load_config
from vlmrec.evaluation.metrics import metric_keys
from vlmrec.training.data import from_frame
from vlmrec.training.grid import (
    PointFiles,
    cell_files,
    choose_winner,
    grid_points,
    point_by_name,
    point_names,
    point_score,
    train_cell,
)
from vlmrec.training.trainer import TrainSettings
from vlmrec.utils.io import read_json


def test_product_order_is_mmrecs() -> None:
    grid = {"dropout": [0.8, 0.9], "reg_weight": [0.0, 1e-5, 1e-4]}
    points = grid_points(grid)
    assert points[:4] == [
        {"dropout": 0.8, "reg_weight": 0.0},
        {"dropout": 0.8, "reg_weight": 1e-5},
        {"dropout": 0.8, "reg_weight": 1e-4},
        {"dropout": 0.9, "reg_weight": 0.0},
    ]
    names = point_names(grid)
    assert len(set(names)) == 6 and names[1] == "dropout0.8_reg_weight1e-05"
    assert point_by_name(grid, names[4]) == points[4]
    with pytest.raises(ValueError, match="grid.reg_weight"):
        grid_points({"reg_weight": 0.0})
    with pytest.raises(ValueError, match="not in the grid"):
        point_by_name(grid, "dropout0.7_reg_weight0.0")


def _point(name: str, valid: list[float], test: list[float]) -> dict:
    runs = [
        {"seed": s, "valid": {"recall@20": v}, "test": {"recall@20": t}, "status": "ok"}
        for s, v, t in zip(range(len(valid)), valid, test)
    ]
    return {"point": {"name": name}, "runs": runs}


def test_selection_on_valid_differs_from_test() -> None:
    points = [
        _point("a", valid=[0.10, 0.12], test=[0.05, 0.05]),  # best on validation (mean 0.11)
        _point("b", valid=[0.09, 0.09], test=[0.07, 0.08]),  # best on test (mean 0.075)
        _point("c", valid=[0.11, 0.11], test=[0.01, 0.01]),  # ties a on valid: the earlier one wins
    ]
    assert point_score(points[0], "valid", "recall@20") == pytest.approx(0.11)
    assert choose_winner(points, "valid", "recall@20") == 0
    assert choose_winner(points, "test", "recall@20") == 1
    with pytest.raises(ValueError, match="select_on"):
        choose_winner(points, "train", "recall@20")


def test_point_without_result_never_wins() -> None:
    failed = {"point": {}, "runs": [{"valid": {}, "test": {}, "status": "nan_loss"}]}
    ok = _point("ok", valid=[0.01], test=[0.01])
    assert point_score(failed, "valid", "recall@20") == -math.inf
    assert choose_winner([failed, ok], "valid", "recall@20") == 1


def _toy_inter(path) -> None:
    rng = np.random.default_rng(0)
    rows = []
    for user in range(80):
        # 70 items (> training.topk's 50); odd users draw from all, even ones from the first 20
        items = rng.choice(70, 8, replace=False) if user % 2 else rng.choice(20, 8, replace=False)
        rows += [(user, int(i), 0) for i in items[:6]] + [(user, int(items[6]), 1), (user, int(items[7]), 2)]
    frame = pd.DataFrame(rows, columns=["userID", "itemID", "x_label"])
    frame.insert(2, "rating", 5.0)
    frame.insert(3, "timestamp", 0)
    frame.to_csv(path, sep="\t", index=False)


def test_separate_points_and_single_job_give_the_same_cell(tmp_path, repo_root) -> None:
    inter = tmp_path / "toy.inter"
    _toy_inter(inter)
    base = ["train", "--config", str(repo_root / "config/demo.yaml"), "--dataset", "demo_baby"]
    base += ["--model", "lightgcn", "--interactions", str(inter), "--epochs", "2", "--seeds", "1", "2"]
    grid = load_config(repo_root / "config/demo.yaml")["models"]["lightgcn"]["grid"]
    # grid_jobs: separate -> one command per point, then the selection
    separate = tmp_path / "separate"
    for name in point_names(grid):
        assert cli_main([*base, "--out", str(separate), "--point", name]) == 0
        assert PointFiles.in_dir(separate / "points", name).result.exists()
    assert cli_main([*base, "--out", str(separate), "--select"]) == 0
    # grid_jobs: single -> one call
    single = tmp_path / "single"
    assert cli_main([*base, "--out", str(single)]) == 0
    a, b = read_json(separate / "metrics.json"), read_json(single / "metrics.json")
    for key in ("valid", "test", "valid_std", "best_epoch", "best_params", "seeds", "status"):
        assert a[key] == b[key], key
    assert a["model"] == "lightgcn" and a["dataset"] == "demo_baby" and a["feature"] == "id"
    assert a["select_on"] == "valid" and a["seeds"] == [1, 2] and len(a["per_seed"]) == 2
    assert set(a["valid"]) == set(metric_keys([5, 10, 20, 50]))
    pd.testing.assert_frame_equal(
        pd.read_parquet(separate / "per_user_test.parquet"), pd.read_parquet(single / "per_user_test.parquet")
    )
    curve_a, curve_b = (pd.read_csv(d / "curve.csv").drop(columns="seconds") for d in (separate, single))
    pd.testing.assert_frame_equal(curve_a, curve_b)
    state_a, state_b = torch.load(separate / "best.pt"), torch.load(single / "best.pt")
    assert state_a.keys() == state_b.keys() and all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert not (single / ".points").exists()  # the single job's scratch folder is gone


def test_cell_outputs_contract_and_winner(tmp_path) -> None:
    rows = [(u, i, "train") for u in range(40) for i in range(u % 5, 30, 5)]
    rows += [(u, (u * 7) % 30, "valid") for u in range(40)]
    rows += [(u, (u * 3 + 1) % 30, "test") for u in range(40)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "split"])
    data = from_frame(frame.drop_duplicates(["user_id", "item_id"]))
    settings = TrainSettings(epochs=2, patience=1, topk=(5, 10), valid_metric="recall@10", device="cpu")
    grid = {"reg_weight": [0.0, 1e-3], "n_layers": [1, 2]}
    out = cell_files(tmp_path / "cell")
    metrics = train_cell("lightgcn", {"embedding_size": 16}, grid, data, None, settings, [3], "test", out, {})
    assert len(metrics["grid"]) == 4
    best = max(metrics["grid"], key=lambda run: run["test"]["recall@10"])
    assert metrics["best_params"] == best["params"]  # select_on: test picks the best test value
    assert metrics["params"]["embedding_size"] == 16
    per_user = pd.read_parquet(out.per_user)
    assert list(per_user.columns) == ["user_id", "seed", *metric_keys([5, 10])]
    assert per_user["recall@10"].mean() == pytest.approx(metrics["test"]["recall@10"])
    assert metrics["test_std"]["recall@10"] == 0.0  # one seed
    curve = pd.read_csv(out.curve)
    assert {"seed", "epoch", "loss", "lr", "valid_recall@10", "test_ndcg@5", "seconds"} <= set(curve.columns)


def test_single_job_resumes_finished_points(tmp_path, monkeypatch) -> None:
    from vlmrec.training import grid as grid_module

    rows = [(u, i, "train") for u in range(30) for i in range(u % 4, 60, 4)]
    rows += [(u, (u * 7 + 1) % 60, "valid") for u in range(30)]
    rows += [(u, (u * 5 + 2) % 60, "test") for u in range(30)]
    data = from_frame(pd.DataFrame(rows, columns=["user_id", "item_id", "split"]))
    settings = TrainSettings(epochs=2, patience=1, topk=(5, 10), valid_metric="recall@10", device="cpu")
    grid = {"reg_weight": [0.0, 1e-3, 1e-2]}
    out = cell_files(tmp_path / "cell")
    calls: list[float] = []
    interrupt = {"on": True}
    real_train_run = grid_module.train_run

    def counting_train_run(model, params, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        calls.append(params["reg_weight"])
        if params["reg_weight"] == 1e-2 and interrupt["on"]:
            raise RuntimeError("interrupted")  # the job dies in its third point
        return real_train_run(model, params, *args, **kwargs)

    monkeypatch.setattr(grid_module, "train_run", counting_train_run)
    with pytest.raises(RuntimeError, match="interrupted"):
        train_cell("lightgcn", {}, grid, data, None, settings, [1], "valid", out, {})
    assert not out.result.exists() and (tmp_path / "cell" / ".points").is_dir()
    # A changed setting (here the seeds) invalidates the finished points: all run again.
    calls.clear()
    with pytest.raises(RuntimeError, match="interrupted"):
        train_cell("lightgcn", {}, grid, data, None, settings, [2], "valid", out, {})
    assert calls == [0.0, 1e-3, 1e-2]
    # The same settings reuse the two finished points.
    calls.clear()
    interrupt["on"] = False
    metrics = train_cell("lightgcn", {}, grid, data, None, settings, [2], "valid", out, {})
    assert calls == [1e-2]
    assert len(metrics["grid"]) == 3 and metrics["seeds"] == [2] and out.result.exists()
    assert not (tmp_path / "cell" / ".points").exists()
