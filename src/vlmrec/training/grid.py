"""Grid search over a cell (dataset, model, feature): points, seeds, selection, cell outputs.

MMRec (``utils/quick_start.py``) runs ``itertools.product`` over the hyper-parameter lists in
the order the model's yaml lists them (last one fastest), re-seeds before building each model,
and keeps the combination with the best **test** Recall@20 at its best-validation epoch. We
keep the order and the re-seeding; the winner is the point with the best mean over seeds of
the **validation** metric (``select_on: valid``) or, to reproduce MMRec, of the test metric
(``select_on: test``). Ties keep the earlier point (MMRec's strict ``>``).

A point's results are files (``points/<point>.json``, ``.per_user_test.parquet``,
``.curve.csv``, ``.pt``) so that points can run as separate Snakemake jobs; ``select_cell``
turns the point files into the cell outputs of docs/ARCHITECTURE.md. ``train_cell`` runs every
point in one process through the same two functions.
"""

from __future__ import annotations

import hashlib
import logging
import math
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from vlmrec.evaluation.metrics import metric_keys
from vlmrec.evaluation.slices import compute_slices, mean_slices
from vlmrec.layout import CELL_FILES, POINT_TO_CELL, point_files_in
from vlmrec.models.registry import get_model_class
from vlmrec.serving import (
    IdMaps,
    load_id_maps,
    rebuild_model,
    test_recommendations,
    write_recommendations,
)
from vlmrec.training.checkpoint import Checkpointing
from vlmrec.training.data import SplitData, load_features, load_interactions
from vlmrec.training.points import grid_points, point_by_name, point_name, point_names  # noqa: F401 (old path)
from vlmrec.training.trainer import RunResult, TrainSettings, curve_columns, round_metric, train_run
from vlmrec.utils.io import atomic_path, content_hash, read_json, write_json, write_parquet
from vlmrec.utils.runtime import cpu_threads

log = logging.getLogger(__name__)

# The feature name of ID-only models' cells (docs/ARCHITECTURE.md; NO_FEATURE in common.smk).
NO_FEATURE = "id"


@dataclass(frozen=True)
class PointFiles:
    """The files of one grid point (or, with other names, of a cell).

    ``recommendations``: the top-k lists of the test users from the first seed's best epoch
    (vlmrec.serving); None writes none (older callers).
    """

    result: Path
    per_user: Path
    curve: Path
    checkpoint: Path
    recommendations: Path | None = None

    @classmethod
    def in_dir(cls, directory: str | Path, name: str) -> PointFiles:
        return cls(**{role: Path(path) for role, path in point_files_in(str(directory), name).items()})


@dataclass(frozen=True)
class RunInputs:
    """What a point's runs are trained from: what its resume files and cell key hash."""

    model: str
    params: Mapping[str, Any]
    data: SplitData
    features: Mapping[str, np.ndarray] | None
    settings: TrainSettings


# --------------------------------------------------------------------------------------------- points
def run_point(
    model: str,
    params: Mapping[str, Any],
    point: Mapping[str, Any],
    data: SplitData,
    features: Mapping[str, np.ndarray] | None,
    settings: TrainSettings,
    seeds: Sequence[int],
    out: PointFiles,
    meta: Mapping[str, Any] | None = None,
    key: str | None = None,
    id_maps: IdMaps | None = None,
) -> dict[str, Any]:
    """Train one grid point for every seed and write its files; returns the point's JSON."""
    merged = {**params, **point}
    inputs = RunInputs(model, merged, data, features, settings)
    runs: list[RunResult] = []
    resume_files = []
    for seed in seeds:
        log.info("model %s point %s seed %d", model, point_name(point), seed)
        resume = resume_checkpoint(out, inputs, seed)
        resume_files.append(resume)
        run = train_run(model, merged, data, features, settings, seed, checkpointing=resume)
        run.slices = run_slices(run, data, settings)
        if runs:
            run.best_state = None  # only the first seed's weights are kept (best.pt)
        runs.append(run)
    result = {
        "key": key,
        "meta": dict(meta or {}),
        "model": model,
        "point": dict(point),
        "params": merged,
        "runs": [run.summary() for run in runs],
        "feature_dims": {name: int(m.shape[1]) for name, m in (features or {}).items()},
        "n_users": data.n_users,
        "n_items": data.n_items,
        "metric_decimals": settings.metric_decimals,  # the grid winner is chosen at this rounding
    }
    _write_per_user(out.per_user, runs, settings.topk)
    _write_curve(out.curve, runs, settings.topk)
    with atomic_path(out.checkpoint) as tmp:
        torch.save(runs[0].best_state or {}, tmp)
    _write_recommendations(out, inputs, runs[0], id_maps)
    write_json(out.result, result)  # last: its presence means the point is complete
    for resume in resume_files:
        resume.remove()
    return result


def run_slices(run: RunResult, data: SplitData, settings: TrainSettings) -> dict[str, Any]:
    """The run's test metrics per item-popularity / user-activity slice (empty without a result)."""
    if run.test_per_user is None or run.test_per_user.top_items is None:
        return {}
    return compute_slices(
        run.test_per_user,
        (data.train_users, data.train_items),
        data.split("test"),
        data.n_users,
        data.n_items,
        settings.topk,
        settings.slices,
    )


def resume_checkpoint(out: PointFiles, inputs: RunInputs, seed: int) -> Checkpointing:
    """A run's per-epoch resume file next to its point's outputs, keyed by the run's content."""
    path = out.result.parent / f".{out.result.stem}.seed{seed}.resume.pt"
    return Checkpointing(path, _cell_key(inputs, [seed]))


def _write_recommendations(
    out: PointFiles, inputs: RunInputs, run: RunResult, id_maps: IdMaps | None
) -> None:
    """Top-max(topk) lists of the test users from the first seed's best weights (empty without any)."""
    if out.recommendations is None:
        return
    settings = inputs.settings
    k = max(settings.topk)
    if run.best_state:
        scorer = rebuild_model(
            inputs.model, inputs.params, inputs.data, inputs.features, run.best_state, settings.device
        )
        frame = test_recommendations(scorer, inputs.data, k, settings.eval_batch_size, id_maps)
    else:  # no evaluated epoch (e.g. a non-finite loss at once): an empty table of the same schema
        frame = pd.DataFrame({c: pd.Series(dtype="int64") for c in ("user_id", "rank", "item_id")})
        frame["score"] = pd.Series(dtype="float32")
    write_recommendations(out.recommendations, frame)


def _write_per_user(path: Path, runs: Sequence[RunResult], topk: Sequence[int]) -> None:
    keys = metric_keys(topk)
    frames = []
    for run in runs:
        if run.test_per_user is None:
            continue
        frame = pd.DataFrame({"user_id": run.test_per_user.users.astype(np.int64)})
        frame["seed"] = np.int64(run.seed)
        for key in keys:
            frame[key] = run.test_per_user.per_user[key]
        frames.append(frame)
    empty = pd.DataFrame({"user_id": pd.Series(dtype="int64"), "seed": pd.Series(dtype="int64")})
    for key in keys:
        empty[key] = pd.Series(dtype="float64")
    write_parquet(path, pd.concat(frames, ignore_index=True) if frames else empty)


def _write_curve(path: Path, runs: Sequence[RunResult], topk: Sequence[int]) -> None:
    rows = [row for run in runs for row in run.curve]
    frame = pd.DataFrame(rows, columns=curve_columns(topk))
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


# --------------------------------------------------------------------------------------------- selection
def point_score(point_result: Mapping[str, Any], select_on: str, metric: str) -> float:
    """Mean over seeds of ``<select_on>[metric]``; -inf when a seed has no evaluated epoch."""
    if select_on not in ("valid", "test"):
        raise ValueError(f"training.select_on must be 'valid' or 'test', got '{select_on}'")
    values = [run[select_on].get(metric) for run in point_result["runs"]]
    if not values or any(v is None or not math.isfinite(v) for v in values):
        return -math.inf
    return float(np.mean(values))


def choose_winner(
    point_results: Sequence[Mapping[str, Any]], select_on: str, metric: str, decimals: int | None = None
) -> int:
    """Index of the best point (first one on ties, as MMRec's strict '>').

    Scores are rounded to ``decimals`` first (MMRec compares its 4-decimal metrics, so points equal to
    4 decimals tie and the earlier one wins); without ``decimals``, the ``metric_decimals`` the points
    were trained with (stored in their JSON; 4 when absent), ``None`` there meaning full precision.
    """
    if not point_results:
        raise ValueError("no grid points to choose from")
    if decimals is None:
        decimals = point_results[0].get("metric_decimals", 4)
    best_index, best_score = 0, -math.inf
    for index, result in enumerate(point_results):
        score = round_metric(point_score(result, select_on, metric), decimals)
        if score > best_score:
            best_index, best_score = index, score
    return best_index


def _mean_std(dicts: Sequence[Mapping[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    dicts = [d for d in dicts if d]
    if not dicts:
        return {}, {}
    keys = list(dicts[0])
    mean = {k: float(np.mean([d[k] for d in dicts])) for k in keys}
    std = {k: float(np.std([d[k] for d in dicts])) for k in keys}
    return mean, std


def cell_metrics(
    point_results: Sequence[Mapping[str, Any]],
    winner: int,
    select_on: str,
    valid_metric: str,
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """The cell's metrics.json (docs/ARCHITECTURE.md) from all point results and the winner."""
    best = point_results[winner]
    runs = best["runs"]
    valid, valid_std = _mean_std([run["valid"] for run in runs])
    test, test_std = _mean_std([run["test"] for run in runs])
    epochs = [run["best_epoch"] for run in runs if run["best_epoch"] is not None]
    statuses = [run["status"] for run in runs]
    status = "ok" if all(s == "ok" for s in statuses) else next(s for s in statuses if s != "ok")
    if not valid:
        status = status if status != "ok" else "no_result"
    grid = [
        {key: run[key] for key in ("seed", "best_epoch", "valid", "test", "status")}
        | {"params": result["point"]}
        for result in point_results
        for run in result["runs"]
    ]
    all_runs = [run for result in point_results for run in result["runs"]]
    return {
        **meta,
        "model": best["model"],
        "status": status,
        "select_on": select_on,
        "valid_metric": valid_metric,
        "best_params": best["point"],
        "params": best["params"],
        "seeds": [run["seed"] for run in runs],
        "valid": valid,
        "test": test,
        "valid_std": valid_std,
        "test_std": test_std,
        "best_epoch": float(np.mean(epochs)) if epochs else None,
        "per_seed": [
            {
                key: run[key]
                for key in ("seed", "best_epoch", "epochs_run", "valid", "test", "wall_time_s", "status")
            }
            for run in runs
        ],
        "grid": grid,
        "feature_dims": best.get("feature_dims", {}),
        # Test metrics per item-popularity / user-activity slice, mean over seeds (evaluation/slices.py).
        "slices": mean_slices([run.get("slices", {}) for run in runs]),
        # best.pt holds the first seed's weights at its best epoch (vlmrec.serving rebuilds it).
        "checkpoint": {
            "file": "best.pt",
            "seed": runs[0]["seed"] if runs else None,
            "best_epoch": runs[0]["best_epoch"] if runs else None,
        },
        "wall_time_s": round(sum(run["wall_time_s"] for run in all_runs), 3),
        "device": runs[0]["device"] if runs else "cpu",
    }


def select_cell(
    points: Sequence[PointFiles],
    out: PointFiles,
    select_on: str,
    valid_metric: str,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Choose the winning point and write the cell's metrics.json, per-user parquet, curve, best.pt."""
    results = [read_json(p.result) for p in points]
    winner = choose_winner(results, select_on, valid_metric)
    score = point_score(results[winner], select_on, valid_metric)
    log.info("winner %s (%s %s = %.4f)", results[winner]["point"], select_on, valid_metric, score)
    metrics = cell_metrics(
        results, winner, select_on, valid_metric, {**results[winner].get("meta", {}), **(meta or {})}
    )
    for source, target in (
        (points[winner].per_user, out.per_user),
        (points[winner].curve, out.curve),
        (points[winner].checkpoint, out.checkpoint),
        (points[winner].recommendations, out.recommendations),
    ):
        if source is None or target is None:
            continue
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
    write_json(out.result, metrics)
    return metrics


def train_cell(
    model: str,
    params: Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]],
    data: SplitData,
    features: Mapping[str, np.ndarray] | None,
    settings: TrainSettings,
    seeds: Sequence[int],
    select_on: str,
    out: PointFiles,
    meta: Mapping[str, Any] | None = None,
    id_maps: IdMaps | None = None,
) -> dict[str, Any]:
    """Every grid point in this process (``grid_jobs: single``), then the same selection.

    Finished points are kept in ``<cell>/.points/`` until the cell is written, so a rerun after an
    interruption skips them. A point is reused only when its key (a hash of the model, parameters,
    training settings, seeds and the content of the interactions and features) matches.
    """
    started = time.perf_counter()
    scratch = out.result.parent / ".points"
    base_key = _cell_key(RunInputs(model, params, data, features, settings), seeds)
    files = []
    for point in grid_points(grid):
        point_files = PointFiles.in_dir(scratch, point_name(point))
        key = content_hash(base_key, dict(point))
        if _finished(point_files, key):
            log.info("point %s: reusing the finished result in %s", point_name(point), scratch)
        else:
            args = (model, params, point, data, features, settings, seeds, point_files, meta)
            run_point(*args, key=key, id_maps=id_maps)
        files.append(point_files)
    metrics = select_cell(files, out, select_on, settings.valid_metric, meta)
    shutil.rmtree(scratch)
    log.info("cell done in %.1f s", time.perf_counter() - started)
    return metrics


def _cell_key(inputs: RunInputs, seeds: Sequence[int]) -> str:
    digest = hashlib.sha256()
    for name in ("train", "valid", "test"):
        for array in inputs.data.split(name):
            digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
    for name, matrix in sorted((inputs.features or {}).items()):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(matrix).tobytes())
    return content_hash(
        inputs.model, dict(inputs.params), asdict(inputs.settings), list(seeds), digest.hexdigest()
    )


def _finished(files: PointFiles, key: str) -> bool:
    if not all(p.exists() for p in (files.result, files.per_user, files.curve, files.checkpoint)):
        return False
    if files.recommendations is not None and not files.recommendations.exists():
        return False
    try:
        return read_json(files.result).get("key") == key
    except ValueError:  # a corrupt JSON: run the point again
        return False


# --------------------------------------------------------------------------------------------- jobs
# The three entry points the Snakemake scripts and `python -m vlmrec train` call. `training` is the
# config's `training` section; `meta` names the cell (dataset, feature).
def load_cell_inputs(
    interactions: str | Path, feature_dir: str | Path | None, model: str
) -> tuple[SplitData, dict[str, np.ndarray] | None]:
    """Interactions and, for models that use them, the feature set (``None`` dir = ID-only)."""
    data = load_interactions(interactions)
    log.info("%s: %s", interactions, data.describe())
    if not get_model_class(model).uses_features:
        return data, None
    if feature_dir is None:
        raise ValueError(f"model '{model}' needs item features, but the cell's feature is '{NO_FEATURE}'")
    features = load_features(feature_dir, data.n_items)
    log.info("%s: %s", feature_dir, {name: m.shape for name, m in features.items()})
    return data, features


def _job_setup(training: Mapping[str, Any], threads: int | None) -> tuple[TrainSettings, list[int]]:
    torch.set_num_threads(threads or cpu_threads())
    seeds = [int(s) for s in training.get("seeds", [999])]
    if not seeds:
        raise ValueError("training.seeds must list at least one seed")
    return TrainSettings.from_mapping(training), seeds


@dataclass
class _Job:
    """What every training job loads before it trains (both job layouts)."""

    settings: TrainSettings
    seeds: list[int]
    data: SplitData
    features: dict[str, np.ndarray] | None
    meta: Mapping[str, Any]
    id_maps: IdMaps | None


def _load_job(
    interactions: str | Path,
    feature_dir: str | Path | None,
    model: str,
    training: Mapping[str, Any],
    meta: Mapping[str, Any],
    threads: int | None,
) -> _Job:
    settings, seeds = _job_setup(training, threads)
    data, features = load_cell_inputs(interactions, feature_dir, model)
    meta = _rebuild_meta(meta, interactions, feature_dir, features, settings)
    return _Job(settings, seeds, data, features, meta, load_id_maps(Path(interactions).parent))


def point_job(
    interactions: str | Path,
    feature_dir: str | Path | None,
    model: str,
    params: Mapping[str, Any],
    point: Mapping[str, Any],
    training: Mapping[str, Any],
    out: PointFiles,
    meta: Mapping[str, Any],
    threads: int | None = None,
) -> dict[str, Any]:
    """One grid point, every seed (``grid_jobs: separate``)."""
    job = _load_job(interactions, feature_dir, model, training, meta, threads)
    return run_point(
        model,
        params,
        point,
        job.data,
        job.features,
        job.settings,
        job.seeds,
        out,
        job.meta,
        id_maps=job.id_maps,
    )


def cell_job(
    interactions: str | Path,
    feature_dir: str | Path | None,
    model: str,
    params: Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]],
    training: Mapping[str, Any],
    out: PointFiles,
    meta: Mapping[str, Any],
    threads: int | None = None,
) -> dict[str, Any]:
    """Every grid point in one job, then the selection (``grid_jobs: single``)."""
    job = _load_job(interactions, feature_dir, model, training, meta, threads)
    select_on = training["select_on"]
    data, features, settings, seeds, meta, id_maps = (
        job.data,
        job.features,
        job.settings,
        job.seeds,
        job.meta,
        job.id_maps,
    )
    return train_cell(
        model, params, grid, data, features, settings, seeds, select_on, out, meta, id_maps=id_maps
    )


def _rebuild_meta(
    meta: Mapping[str, Any],
    interactions: str | Path,
    feature_dir: str | Path | None,
    features: Mapping[str, np.ndarray] | None,
    settings: TrainSettings,
) -> dict[str, Any]:
    """What `python -m vlmrec evaluate/recommend` needs besides best.pt (goes into metrics.json)."""
    inputs: dict[str, Any] = {"interactions": str(interactions), "feature_dir": None}
    if features is not None and feature_dir is not None:
        manifest = Path(feature_dir) / "manifest.json"
        inputs["feature_dir"] = str(feature_dir)
        content = read_json(manifest).get("content_hash") if manifest.exists() else None
        inputs["features_content_hash"] = content
    return {**meta, "inputs": inputs, "settings": asdict(settings)}


def cell_files(cell_dir: str | Path) -> PointFiles:
    """The cell outputs of docs/ARCHITECTURE.md inside ``results/{dataset}/runs/{model}/{feature}``."""
    d = Path(cell_dir)
    return PointFiles(**{role: d / CELL_FILES[cell_role] for role, cell_role in POINT_TO_CELL.items()})
