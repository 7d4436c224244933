"""Fake cell directories for the report tests: written to the training stage's contract
(metrics.json, per_user_test.parquet, curve.csv) and feature manifests.

Per-user values are drawn at random with a per-feature shift; metrics.json is then computed from
them (means over users, then over seeds), so every file of a cell is consistent with the others.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

METRICS = ("recall", "ndcg", "precision")
TOPK = (10, 20)


@dataclass
class FakeRun:
    """What to write: datasets x models x features, with a per-feature shift of the user values."""

    datasets: tuple[str, ...] = ("baby", "sports")
    models: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "freedom": ("original", "visual", "textual", "dual"),
            "lightgcn": ("id",),
        }
    )
    shifts: dict[str, float] = field(
        default_factory=lambda: {"original": 0.0, "visual": -0.05, "textual": 0.0, "dual": 0.04, "id": 0.0}
    )
    seeds: tuple[int, ...] = (999, 1000)
    n_users: int = 300
    epochs: int = 6
    manifests: bool = True
    wall_time: bool = True
    failed: tuple[tuple[str, str, str], ...] = ()


def _user_values(
    rng: np.random.Generator, n_users: int, shift: float, seed_noise: float
) -> dict[str, np.ndarray]:
    base = np.clip(rng.beta(0.6, 4.0, n_users) + shift + seed_noise, 0.0, 1.0)
    # Many users have a zero hit, as in real top-k metrics (ties for the Wilcoxon test).
    base[rng.random(n_users) < 0.3] = 0.0
    values = {}
    for k in TOPK:
        scale = k / max(TOPK)
        values[f"recall@{k}"] = base * scale
        values[f"ndcg@{k}"] = base * scale * 0.45
        values[f"precision@{k}"] = base * scale * 0.06
    return values


def write_cell(
    root: Path, dataset: str, model: str, feature: str, run: FakeRun, rng: np.random.Generator
) -> Path:
    """One cell directory; returns its metrics.json path."""
    cell = root / dataset / "runs" / model / feature
    cell.mkdir(parents=True, exist_ok=True)
    if (dataset, model, feature) in run.failed:
        data = {
            "dataset": dataset,
            "model": model,
            "feature": feature,
            "status": "failed",
            "seeds": list(run.seeds),
            "test": {},
            "valid": {},
            "best_params": {},
            "best_epoch": None,
        }
        (cell / "metrics.json").write_text(json.dumps(data))
        return cell / "metrics.json"
    # The same users' "difficulty" across features of a dataset: a paired design, as in reality.
    user_rng = np.random.default_rng(zlib.crc32(dataset.encode()))
    difficulty = user_rng.normal(0, 0.02, run.n_users)
    frames, per_seed = [], []
    for seed in run.seeds:
        values = _user_values(rng, run.n_users, run.shifts.get(feature, 0.0), rng.normal(0, 0.002))
        values = {key: np.clip(v + difficulty * (v > 0), 0, 1) for key, v in values.items()}
        frame = pd.DataFrame({"user_id": np.arange(run.n_users, dtype=np.int64), "seed": seed, **values})
        frames.append(frame)
        per_seed.append(
            {
                "seed": seed,
                "best_epoch": int(rng.integers(2, run.epochs)),
                "epochs_run": run.epochs,
                "test": {key: float(v.mean()) for key, v in values.items()},
                "valid": {key: float(v.mean()) for key, v in values.items()},
                "wall_time_s": 1.0,
                "status": "ok",
            }
        )
    pd.concat(frames).to_parquet(cell / "per_user_test.parquet", index=False)
    keys = list(per_seed[0]["test"])
    test = {key: float(np.mean([s["test"][key] for s in per_seed])) for key in keys}
    test_std = {key: float(np.std([s["test"][key] for s in per_seed])) for key in keys}
    dims = {"image": 1536} if feature == "visual" else {"text": 1536} if feature == "textual" else {}
    if feature == "original":
        dims = {"image": 2048, "text": 768}
    if feature == "dual":
        dims = {"image": 1536, "text": 1536}
    data = {
        "dataset": dataset,
        "model": model,
        "feature": feature,
        "status": "ok",
        "select_on": "valid",
        "valid_metric": "recall@20",
        "best_params": {"reg_weight": 0.0001, "dropout": 0.8},
        "seeds": list(run.seeds),
        "valid": test,
        "test": test,
        "valid_std": test_std,
        "test_std": test_std,
        "best_epoch": float(np.mean([s["best_epoch"] for s in per_seed])),
        "per_seed": per_seed,
        "grid": [],
        "feature_dims": dims,
        "wall_time_s": 3.0,
        "device": "cpu",
    }
    (cell / "metrics.json").write_text(json.dumps(data, indent=1))
    rows = []
    for seed in run.seeds:
        for epoch in range(run.epochs):
            row = {"seed": seed, "epoch": epoch, "loss": 1.0 / (epoch + 1), "lr": 0.001, "seconds": 0.1}
            for key in keys:
                row[f"valid_{key}"] = test[key] * (1 - 0.5 ** (epoch + 1))
                row[f"test_{key}"] = test[key] * (1 - 0.5 ** (epoch + 1))
            rows.append(row)
    pd.DataFrame(rows).to_csv(cell / "curve.csv", index=False)
    return cell / "metrics.json"


def write_manifest(
    root: Path, dataset: str, strategy: str, dim_by_modality: dict[str, int], wall: float | None
) -> Path:
    folder = root / dataset / "features" / strategy
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "strategy": strategy,
        "modalities": {m: {"file": f"{m}.npy", "dim": d} for m, d in dim_by_modality.items()},
        "model": "tiny",
        "n_items": 10,
        "device": "cpu",
    }
    if wall is not None:
        manifest["wall_time_s"] = wall
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder / "manifest.json"


def write_fake_run(root: Path, run: FakeRun, seed: int = 0) -> list[Path]:
    """Every cell of `run` under `root` (a results dir); returns the metrics.json paths."""
    rng = np.random.default_rng(seed)
    paths = []
    for dataset in run.datasets:
        for model, features in run.models.items():
            for feature in features:
                paths.append(write_cell(root, dataset, model, feature, run, rng))
        if run.manifests:
            strategies = {f for fs in run.models.values() for f in fs if f != "id"}
            for i, strategy in enumerate(sorted(strategies)):
                dims = {"image": 2048, "text": 768} if strategy == "original" else {"fused": 1536}
                write_manifest(root, dataset, strategy, dims, 10.0 * (i + 1) if run.wall_time else None)
    return paths
