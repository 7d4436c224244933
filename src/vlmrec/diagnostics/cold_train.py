"""The torch-bound half of the cold-start protocol: train and evaluate a model on the cold split.

``cold_cell`` trains a model that can score items without training interactions
(``Recommender.scores_cold_items``) on ``results/<ds>/cold/interactions.parquet`` (written by
:func:`vlmrec.diagnostics.cold_start.make_cold_split`) with the hyper-parameters its ordinary cell
chose on validation, for every seed; validation (early stopping) and test rank only the cold items.
Kept apart from :mod:`vlmrec.diagnostics.cold_start` so the split and the table need no torch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from vlmrec.evaluation.metrics import RankingEvaluator
from vlmrec.models.registry import get_model_class
from vlmrec.training.data import from_frame, load_features
from vlmrec.training.trainer import TrainSettings, train_run
from vlmrec.utils.io import read_json, write_json
from vlmrec.utils.runtime import cpu_threads, resolve_device

log = logging.getLogger(__name__)


def cold_evaluator(frame: pd.DataFrame, n_items: int, settings: TrainSettings, device: torch.device):
    """Valid/test targets = rows of the valid-/test-cold items; every warm item masked for everyone."""
    data = from_frame(frame)
    cold = np.zeros(n_items, dtype=np.int8)
    cold[frame["item_id"].to_numpy()] = frame["cold"].to_numpy()
    targets = {}
    for name, code in (("valid", 1), ("test", 2)):
        users, items = data.split(name)
        keep = cold[items] == code
        targets[name] = (users[keep], items[keep])
    evaluator = RankingEvaluator(
        n_items=n_items,
        train=(data.train_users, data.train_items),
        targets=targets,
        topk=settings.topk,
        batch_size=settings.eval_batch_size,
        device=device,
        excluded_items=cold == 0,
    )
    return data, evaluator, cold


def _mean_std(values: Sequence[Mapping[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    values = [v for v in values if v]
    if not values:
        return {}, {}
    keys = list(values[0])
    return (
        {k: float(np.mean([v[k] for v in values])) for k in keys},
        {k: float(np.std([v[k] for v in values])) for k in keys},
    )


def cold_cell(
    interactions: str | Path,
    feature_dir: str | Path,
    cell_metrics: str | Path,
    model: str,
    params: Mapping[str, Any],
    training: Mapping[str, Any],
    out: str | Path,
    meta: Mapping[str, Any],
    threads: int | None = None,
) -> dict[str, Any]:
    """Train ``model`` on the cold split with its cell's chosen parameters; cold-item metrics per seed."""
    started = time.perf_counter()
    model_class = get_model_class(model)
    if not model_class.scores_cold_items:
        raise ValueError(f"model '{model}' cannot score items without training interactions")
    torch.set_num_threads(threads or cpu_threads())
    settings = TrainSettings.from_mapping(training)
    seeds = [int(s) for s in training["seeds"]]
    chosen = read_json(cell_metrics).get("best_params", {})
    merged = {**params, **chosen}
    frame = pd.read_parquet(interactions)
    device = torch.device(resolve_device(settings.device))
    n_items = int(frame["item_id"].max()) + 1
    data, evaluator, cold = cold_evaluator(frame, n_items, settings, device)
    features = load_features(feature_dir, data.n_items)
    runs = []
    for seed in seeds:
        run = train_run(model, merged, data, features, settings, seed, evaluator=evaluator)
        runs.append(run.summary() | {"slices": None})
        log.info("seed %d: cold test %s", seed, run.test)
    valid, valid_std = _mean_std([r["valid"] for r in runs])
    test, test_std = _mean_std([r["test"] for r in runs])
    statuses = [r["status"] for r in runs]
    result = {
        **dict(meta),
        "model": model,
        "protocol": "cold_items",
        "status": "ok"
        if valid and all(s == "ok" for s in statuses)
        else next((s for s in statuses if s != "ok"), "no_result"),
        "params": merged,
        "best_params": chosen,
        "seeds": seeds,
        "n_cold_items": {"valid": int((cold == 1).sum()), "test": int((cold == 2).sum())},
        "n_users": {name: int(len(np.unique(evaluator.splits[name].users))) for name in ("valid", "test")},
        "valid": valid,
        "test": test,
        "valid_std": valid_std,
        "test_std": test_std,
        "per_seed": [{k: v for k, v in r.items() if k not in ("params", "slices")} for r in runs],
        "wall_time_s": round(time.perf_counter() - started, 3),
    }
    write_json(out, result)
    return result
