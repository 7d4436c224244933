"""Top-k recommendations and evaluation from a cell's saved model, without retraining.

A cell directory (``results/{dataset}/runs/{model}/{feature}/``) holds ``best.pt`` (the state
dict of the winning grid point's **first** seed at its best-validation epoch) and ``metrics.json``,
whose ``params``, ``checkpoint`` (seed, best epoch) and ``inputs`` (interactions file, feature set
directory and its content hash) are what it takes to rebuild that model. The frozen parts a model
builds from its inputs (kNN graphs, the normalised user-item graph) are deterministic, and the
trained ones are in the state dict, so the rebuilt model scores exactly as it did at its best epoch:
``evaluate`` reproduces that seed's ``per_seed`` entry of metrics.json (tested).

Recommendation lists rank every item for a user with the user's training items masked (as the
evaluation does); ``recommendations.parquet`` has one row per (user, rank): ``user_id, rank,
item_id, score`` (dense ids, rank from 1) and, through the data stage's ``user_map.csv`` /
``item_map.csv``, ``original_user_id`` and ``asin``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from vlmrec.models import registry
from vlmrec.models.base import Recommender
from vlmrec.training.data import SplitData, load_features, load_interactions
from vlmrec.training.trainer import TrainSettings, evaluate_model, make_evaluator
from vlmrec.utils.io import atomic_path, read_json, write_json, write_parquet
from vlmrec.utils.runtime import resolve_device

log = logging.getLogger(__name__)

RECOMMENDATIONS_FILE = "recommendations.parquet"
RECOMMENDATION_COLUMNS = ["user_id", "rank", "item_id", "score", "original_user_id", "asin"]


# --------------------------------------------------------------------------------------------- ids
@dataclass(frozen=True)
class IdMaps:
    """Original ids by dense id: ``users[u]`` is user u's id, ``items[i]`` item i's asin."""

    users: np.ndarray
    items: np.ndarray


def _read_map(path: Path, id_column: str, dense_column: str) -> np.ndarray:
    frame = pd.read_csv(path, dtype={id_column: str})
    for column in (id_column, dense_column):
        if column not in frame.columns:
            raise ValueError(f"{path}: column '{column}' missing (has {list(frame.columns)})")
    values = np.empty(len(frame), dtype=object)
    dense = frame[dense_column].to_numpy(dtype=np.int64)
    if len(frame) and (dense.min() < 0 or dense.max() >= len(frame) or len(np.unique(dense)) != len(frame)):
        raise ValueError(f"{path}: '{dense_column}' is not a permutation of 0..{len(frame) - 1}")
    values[dense] = frame[id_column].to_numpy()
    return values


def load_id_maps(dataset_dir: str | Path) -> IdMaps | None:
    """The data stage's ``user_map.csv`` / ``item_map.csv`` of a dataset folder, or None if absent."""
    folder = Path(dataset_dir)
    users, items = folder / "user_map.csv", folder / "item_map.csv"
    if not (users.exists() and items.exists()):
        return None
    return IdMaps(users=_read_map(users, "original_id", "user_id"), items=_read_map(items, "asin", "item_id"))


# --------------------------------------------------------------------------------------------- model
def rebuild_model(
    model_name: str,
    params: Mapping[str, Any],
    data: SplitData,
    features: Mapping[str, np.ndarray] | None,
    state: Mapping[str, torch.Tensor],
    device: str = "cpu",
) -> Recommender:
    """Build the model as training did and load its saved weights; ready to score (eval mode)."""
    torch_device = torch.device(resolve_device(device))
    model_class = registry.get_model_class(model_name)
    tensors = None
    if model_class.uses_features:
        if not features:
            raise ValueError(f"model '{model_name}' needs item features to be rebuilt")
        tensors = {
            n: torch.as_tensor(m, dtype=torch.float32, device=torch_device) for n, m in features.items()
        }
    model = registry.build(model_name, data.interaction_data(), tensors, dict(params), torch_device)
    if not state:
        raise ValueError(f"no saved weights for model '{model_name}' (the run had no evaluated epoch)")
    model.load_state_dict(dict(state))
    model.eval()
    model.prepare_eval()
    return model


def _train_csr(data: SplitData) -> tuple[np.ndarray, np.ndarray]:
    """Training items of every user as CSR (indptr over dense users, sorted unique items)."""
    pairs = data.interaction_data()
    indptr = np.searchsorted(pairs.train_users, np.arange(data.n_users + 1))
    return indptr, pairs.train_items


@torch.no_grad()
def top_k(
    model: Recommender,
    data: SplitData,
    users: Sequence[int] | np.ndarray,
    k: int,
    batch_size: int = 4096,
    id_maps: IdMaps | None = None,
) -> pd.DataFrame:
    """The top-``k`` items of each user (training items masked), one row per (user, rank).

    Users are scored in batches in the given order, so the same batches as the evaluator's give
    the same scores bit for bit.
    """
    users = np.asarray(users, dtype=np.int64)
    bad = users[(users < 0) | (users >= data.n_users)]
    if len(bad):
        raise ValueError(f"user id(s) {bad[:5].tolist()} outside 0..{data.n_users - 1}")
    k = min(int(k), data.n_items)
    indptr, train_items = _train_csr(data)
    items_out, scores_out = [], []
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        scores = model.score_users(torch.as_tensor(batch, device=model.device)).to(torch.float32).cpu()
        counts = indptr[batch + 1] - indptr[batch]
        rows = np.repeat(np.arange(len(batch)), counts)
        cols = np.concatenate([train_items[indptr[u] : indptr[u + 1]] for u in batch]) if len(batch) else []
        scores[
            torch.as_tensor(rows, dtype=torch.int64), torch.as_tensor(cols, dtype=torch.int64)
        ] = -torch.inf
        top = torch.topk(scores, k, dim=1)
        items_out.append(top.indices.numpy())
        scores_out.append(top.values.numpy())
    return _frame(users, items_out, scores_out, k, id_maps)


def _frame(
    users: np.ndarray, items: list[np.ndarray], scores: list[np.ndarray], k: int, id_maps: IdMaps | None
) -> pd.DataFrame:
    item_ids = np.concatenate(items).reshape(-1) if items else np.zeros(0, dtype=np.int64)
    frame = pd.DataFrame(
        {
            "user_id": np.repeat(users, k),
            "rank": np.tile(np.arange(1, k + 1, dtype=np.int64), len(users)),
            "item_id": item_ids.astype(np.int64),
            "score": (np.concatenate(scores).reshape(-1) if scores else np.zeros(0)).astype(np.float32),
        }
    )
    if id_maps is not None:
        frame["original_user_id"] = id_maps.users[frame["user_id"].to_numpy()].astype(str)
        frame["asin"] = id_maps.items[frame["item_id"].to_numpy()].astype(str)
    return frame


def evaluated_users(data: SplitData) -> np.ndarray:
    """The evaluator's users in its order (sorted union of valid and test users)."""
    return np.unique(np.concatenate([data.valid_users, data.test_users]))


def test_recommendations(
    model: Recommender, data: SplitData, k: int, batch_size: int, id_maps: IdMaps | None = None
) -> pd.DataFrame:
    """Top-k lists of the test users, scored in the evaluator's batches (same scores as the metrics)."""
    frame = top_k(model, data, evaluated_users(data), k, batch_size, id_maps)
    return frame[frame["user_id"].isin(np.unique(data.test_users))].reset_index(drop=True)


def write_recommendations(path: str | Path, frame: pd.DataFrame) -> None:
    write_parquet(path, frame)


# --------------------------------------------------------------------------------------------- cells
@dataclass(frozen=True)
class LoadedCell:
    """A cell's saved model with the data it was trained on."""

    metrics: dict[str, Any]
    model: Recommender
    data: SplitData
    settings: TrainSettings
    id_maps: IdMaps | None


def _cell_inputs(
    metrics: Mapping[str, Any], interactions: str | Path | None, features_dir: str | Path | None
) -> tuple[Path, Path | None]:
    recorded = metrics.get("inputs") or {}
    inter = interactions or recorded.get("interactions")
    if inter is None:
        raise ValueError("metrics.json records no 'inputs.interactions': pass --interactions")
    feature_dir = features_dir or recorded.get("feature_dir")
    return Path(inter), None if feature_dir is None else Path(feature_dir)


def _check_feature_hash(metrics: Mapping[str, Any], feature_dir: Path) -> None:
    """The features must be the ones the model was trained on (manifest content hash)."""
    expected = (metrics.get("inputs") or {}).get("features_content_hash")
    manifest = feature_dir / "manifest.json"
    if expected is None or not manifest.exists():
        return
    found = read_json(manifest).get("content_hash")
    if found != expected:
        raise ValueError(
            f"{manifest}: content_hash {found} differs from the {expected} the checkpoint was trained on"
        )


def load_cell_model(
    checkpoint: str | Path,
    interactions: str | Path | None = None,
    features_dir: str | Path | None = None,
    device: str = "cpu",
) -> LoadedCell:
    """Rebuild a cell's model from ``best.pt`` and the ``metrics.json`` next to it."""
    checkpoint = Path(checkpoint)
    metrics_path = checkpoint.parent / "metrics.json"
    if not checkpoint.exists():
        raise FileNotFoundError(f"{checkpoint}: checkpoint not found")
    if not metrics_path.exists():
        raise FileNotFoundError(f"{metrics_path}: the cell's metrics.json (next to the checkpoint) not found")
    metrics = read_json(metrics_path)
    for key in ("model", "params"):
        if key not in metrics:
            raise ValueError(f"{metrics_path}: lacks '{key}' (cell written by an older vlmrec?)")
    inter_path, feature_dir = _cell_inputs(metrics, interactions, features_dir)
    data = load_interactions(inter_path)
    features = None
    if registry.get_model_class(metrics["model"]).uses_features:
        if feature_dir is None:
            raise ValueError(f"{metrics_path}: records no feature set directory: pass --features-dir")
        _check_feature_hash(metrics, feature_dir)
        features = load_features(feature_dir, data.n_items)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model = rebuild_model(metrics["model"], metrics["params"], data, features, state, device)
    settings = TrainSettings.from_mapping({**(metrics.get("settings") or {}), "device": device})
    return LoadedCell(metrics, model, data, settings, load_id_maps(inter_path.parent))


def evaluate_cell(cell: LoadedCell) -> dict[str, dict[str, float]]:
    """Valid and test metrics of the loaded model, computed exactly as training evaluated them."""
    evaluator = make_evaluator(cell.data, cell.settings, cell.model.device)
    results = evaluate_model(cell.model, evaluator)
    cell.model.eval()
    return {split: result.mean() for split, result in results.items()}


def checkpoint_seed_entry(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The ``per_seed`` entry of the seed whose weights ``best.pt`` holds (the first seed)."""
    seed = (metrics.get("checkpoint") or {}).get("seed")
    entries = metrics.get("per_seed") or []
    for entry in entries:
        if seed is None or entry.get("seed") == seed:
            return dict(entry)
    raise ValueError(f"metrics.json has no per_seed entry for the checkpoint's seed {seed}")


# --------------------------------------------------------------------------------------------- CLI
def _compare(recomputed: Mapping[str, Mapping[str, float]], entry: Mapping[str, Any]) -> float:
    """Largest |recomputed - recorded| over the valid and test metrics of the checkpoint's seed."""
    diffs = [
        abs(float(value) - float(recomputed[split][key]))
        for split in ("valid", "test")
        for key, value in (entry.get(split) or {}).items()
        if key in recomputed.get(split, {})
    ]
    return max(diffs) if diffs else float("nan")


def _run_evaluate(args: argparse.Namespace) -> int:
    cell = load_cell_model(args.checkpoint, args.interactions, args.features_dir, args.device)
    recomputed = evaluate_cell(cell)
    entry = checkpoint_seed_entry(cell.metrics)
    diff = _compare(recomputed, entry)
    report = {
        "checkpoint": str(args.checkpoint),
        "seed": entry.get("seed"),
        **recomputed,
        "max_abs_diff": diff,
    }
    text = json.dumps(report, indent=2, sort_keys=True)
    if args.out:
        write_json(args.out, report)
    print(text)
    if args.check and not diff <= args.tolerance:
        print(f"error: metrics differ from metrics.json by {diff:.3g} (> {args.tolerance})", file=sys.stderr)
        return 1
    return 0


def _select_users(cell: LoadedCell, args: argparse.Namespace) -> np.ndarray:
    if args.users:
        return np.asarray(args.users, dtype=np.int64)
    if args.original_users:
        if cell.id_maps is None:
            raise ValueError("--original-users needs the dataset's user_map.csv next to the interactions")
        index = {str(original): dense for dense, original in enumerate(cell.id_maps.users)}
        unknown = [u for u in args.original_users if u not in index]
        if unknown:
            raise ValueError(f"unknown original user id(s) {unknown[:5]} (not in user_map.csv)")
        return np.asarray([index[u] for u in args.original_users], dtype=np.int64)
    return np.unique(cell.data.test_users)


def _run_recommend(args: argparse.Namespace) -> int:
    cell = load_cell_model(args.checkpoint, args.interactions, args.features_dir, args.device)
    users = _select_users(cell, args)
    frame = top_k(cell.model, cell.data, users, args.k, cell.settings.eval_batch_size, cell.id_maps)
    out = Path(args.out)
    if out.suffix == ".csv":
        with atomic_path(out) as tmp:
            frame.to_csv(tmp, index=False)
    else:
        write_recommendations(out, frame)
    print(f"wrote top-{args.k} lists of {len(users)} user(s) to {out}")
    return 0


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="a cell's best.pt (metrics.json next to it)")
    parser.add_argument("--interactions", help="default: the interactions file recorded in metrics.json")
    parser.add_argument("--features-dir", help="default: the feature set recorded in metrics.json")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])


def register(subparsers: argparse._SubParsersAction) -> None:
    """`python -m vlmrec evaluate` and `python -m vlmrec recommend`."""
    evaluate = subparsers.add_parser(
        "evaluate",
        help="recompute a cell's valid/test metrics from its best.pt (no retraining)",
        description="Rebuild a cell's model from best.pt + metrics.json and evaluate it as training did; "
        "compares with the metrics.json entry of the checkpoint's seed (the first seed).",
    )
    _common_arguments(evaluate)
    evaluate.add_argument("--out", help="also write the recomputed metrics to this JSON file")
    evaluate.add_argument("--check", action="store_true", help="exit 1 when they differ from metrics.json")
    evaluate.add_argument("--tolerance", type=float, default=1e-9, help="for --check (default 1e-9)")
    evaluate.set_defaults(func=_run_evaluate)
    recommend = subparsers.add_parser(
        "recommend",
        help="top-k recommendation lists from a cell's best.pt",
        description="Top-k items per user (training items masked) from a cell's saved model. Users: "
        "--users (dense ids), --original-users (ids of user_map.csv), default all test users.",
    )
    _common_arguments(recommend)
    who = recommend.add_mutually_exclusive_group()
    who.add_argument("--users", type=int, nargs="+", help="dense user ids (0..n_users-1)")
    who.add_argument("--original-users", nargs="+", help="original user ids (user_map.csv)")
    recommend.add_argument("--k", type=int, default=20, help="list length (default 20)")
    recommend.add_argument("--out", required=True, help="output .parquet (or .csv)")
    recommend.set_defaults(func=_run_recommend)
