"""`results/run_plan.md`: what a run measured per rule and stage, and what the real run will cost.

Written by the full-scale rehearsal (benchmarks/rehearsal/run.py) from the workflow's own records:
Snakemake's `benchmark:` TSV of every job (wall seconds, peak RSS), the disk used under each stage's
folders, and the training curves (seconds per epoch per model). The estimate for the paper's run
(Amazon Baby and Sports, config/config.yaml) combines

- extraction: items x passes / throughput per encoder on one GPU. Throughputs are the documented
  assumptions below (VLM2Vec-V2.0 in bf16 on one H100 at the project's targets; no GPU has measured
  them yet) unless a JSON of measured items/s (bench_extract.py on the GPU) is given;
- training: the paper config's job count (grid points x strategies x models x datasets x seeds) x
  an assumed mean epoch count x seconds per epoch measured here on CPU at Baby size, scaled to
  Sports by its interactions; GPU hours under an assumed CPU->GPU speed-up (unmeasured);
- disk: feature matrices from their real dimensions (float32), images at an assumed mean size.

Every assumption is printed next to the figure it produces.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from vlmrec.utils.io import atomic_path

STAGES = {
    "data": (
        "demo_data",
        "download_ratings",
        "download_meta",
        "download_image_features",
        "filter_interactions",
        "download_images",
        "build_dataset",
        "join_mmrec_meta",
        "copy_provided_features",
    ),
    "features": ("build_tiny_models", "extract_", "combine_", "export_mmrec"),
    "train": ("train_point", "select_cell", "train_cell"),
    "diagnostics": ("diagnose_", "diagnostic_", "diagnostics_", "slices_", "cold_", "train_cold"),
    "report": ("aggregate", "plots", "paper_comparison", "partial_table", "table", "report"),
    "prefetch": ("prefetch",),
}
# Folders of results/<dataset>/ per stage (disk use).
STAGE_DIRS = {"data": ("raw", "interim", "images"), "features": ("features", "mmrec"), "train": ("runs",)}

# The real datasets (the paper's Table 1).
REAL_DATASETS = {
    "baby": {"users": 19445, "items": 7050, "interactions": 160792},
    "sports": {"users": 35598, "items": 18357, "interactions": 296337},
}
# Which encoder passes each strategy runs, and the dimensions it stores (README "Item features").
STRATEGY_PASSES = {
    "visual": ["vlm2vec_image"],
    "textual": ["vlm2vec_text"],
    "prompt1": ["vlm2vec_fused"],
    "prompt2": ["vlm2vec_fused"],
    "original": ["resnet", "bert"],
    "mmrec_original": ["minilm"],
    "dual": [],
    "dual_concat": [],
}
STRATEGY_DIMS = {
    "visual": [1536],
    "textual": [1536],
    "prompt1": [1536],
    "prompt2": [1536],
    "dual": [1536, 1536],
    "dual_concat": [3072],
    "original": [2048, 768],
    "mmrec_original": [4096, 384],
}


@dataclass(frozen=True)
class Assumptions:
    """The figures the estimate rests on that no measurement here provides (override any)."""

    # items/s on one H100: VLM2Vec-V2.0 bf16 at the project's targets; the small encoders at
    # conservative figures for batch 64 (not measured: no GPU was available).
    items_per_s: Mapping[str, float] = field(
        default_factory=lambda: {
            "vlm2vec_text": 100.0,
            "vlm2vec_image": 40.0,
            "vlm2vec_fused": 40.0,
            "resnet": 400.0,
            "bert": 800.0,
            "minilm": 1500.0,
        }
    )
    job_overhead_s: float = 180.0  # model load + data loader start per extraction job
    # Seconds per epoch (train + evaluation) at full Baby size on the idle 2-core CPU, from
    # bench_train.py --data synthetic (README "Performance"); used when the run is too small
    # (below `min_measured_share` of Baby's interactions) for its own epochs to extrapolate.
    baby_epoch_s: Mapping[str, float] = field(default_factory=lambda: {"freedom": 6.32, "lattice": 5.43})
    min_measured_share: float = 0.5
    mean_epochs: float = 150.0  # MMRec's early stopping (best epoch + 21); at most 1000
    gpu_speedup: float = 5.0  # CPU (2 threads) -> one GPU, per training epoch
    image_kb: float = 30.0  # one normalised product image (JPEG q95, ~300x300)


def read_benchmarks(results: Path) -> pd.DataFrame:
    """One row per job: rule, job, seconds, peak RSS (MB) from `results/benchmarks/<rule>/*.tsv`."""
    rows = []
    for tsv in sorted((results / "benchmarks").glob("*/**/*.tsv")):
        rule = tsv.relative_to(results / "benchmarks").parts[0]
        frame = pd.read_csv(tsv, sep="\t")
        if frame.empty:
            continue
        last = frame.iloc[-1]
        rss = pd.to_numeric(last.get("max_rss"), errors="coerce")
        rows.append({"rule": rule, "job": tsv.stem, "seconds": float(last["s"]), "max_rss_mb": rss})
    return pd.DataFrame(rows, columns=["rule", "job", "seconds", "max_rss_mb"])


def stage_of(rule: str) -> str:
    for stage, prefixes in STAGES.items():
        if any(rule == p or (p.endswith("_") and rule.startswith(p)) for p in prefixes):
            return stage
    return "other"


def per_rule(bench: pd.DataFrame) -> pd.DataFrame:
    grouped = bench.groupby("rule").agg(
        jobs=("job", "size"),
        total_s=("seconds", "sum"),
        mean_s=("seconds", "mean"),
        max_s=("seconds", "max"),
        peak_rss_mb=("max_rss_mb", "max"),
    )
    grouped.insert(0, "stage", [stage_of(rule) for rule in grouped.index])
    return grouped.sort_values(["stage", "rule"])


def disk_per_stage(results: Path, datasets: list[str], resources: Path | None) -> dict[str, int]:
    """Bytes under each stage's folders (all datasets), the report files and the built models."""

    def size(path: Path) -> int:
        if path.is_file():
            return path.stat().st_size
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0

    out = {
        stage: sum(size(results / d / sub) for d in datasets for sub in subs)
        for stage, subs in STAGE_DIRS.items()
    }
    out["report"] = sum(size(p) for p in results.iterdir() if p.is_file() or p.name == "plots")
    out["logs + benchmarks"] = size(results / "logs") + size(results / "benchmarks")
    if resources is not None:
        out["models (resources/models)"] = size(resources / "models")
    return out


def epoch_seconds(results: Path, datasets: list[str]) -> dict[str, float]:
    """Mean seconds per training epoch (train + evaluation) per model, from the runs' curves."""
    frames = []
    for dataset in datasets:
        for curve in (results / dataset / "runs").glob("*/*/points/*.curve.csv"):
            frame = pd.read_csv(curve)
            frame["model"] = curve.parts[-4]
            frames.append(frame)
        for curve in (results / dataset / "runs").glob("*/*/curve.csv"):
            if not frames:  # grid_jobs: single keeps only the winners' curves
                frame = pd.read_csv(curve)
                frame["model"] = curve.parts[-3]
                frames.append(frame)
    if not frames:
        return {}
    merged = pd.concat(frames, ignore_index=True)
    return {str(model): float(group["seconds"].mean()) for model, group in merged.groupby("model")}


def paper_jobs(paper_config: Mapping[str, Any]) -> dict[str, int]:
    """Training runs (grid points x seeds) per model for one dataset of the paper's config."""
    from vlmrec.layout import model_strategies  # the one rule for which features a model trains on

    seeds = len(paper_config["training"].get("seeds", [999]))
    jobs = {}
    for model, entry in paper_config["models"].items():
        points = math.prod(len(v) for v in (entry.get("grid") or {}).values()) or 1
        jobs[model] = points * len(model_strategies(paper_config, model)) * seeds
    return jobs


def extraction_hours(strategies: list[str], n_items: int, a: Assumptions) -> tuple[float, int]:
    """GPU hours and job count of the feature stage for one dataset."""
    seconds, jobs = 0.0, 0
    for strategy in strategies:
        passes = STRATEGY_PASSES.get(strategy, [])
        if passes:
            jobs += 1
            seconds += a.job_overhead_s + sum(n_items / a.items_per_s[p] for p in passes)
    return seconds / 3600, jobs


def feature_bytes(strategies: list[str], n_items: int) -> int:
    """float32 feature matrices plus their MMRec export (written once more)."""
    return 2 * sum(4 * n_items * d for s in strategies for d in STRATEGY_DIMS.get(s, []))


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GB"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def estimate(
    paper_config: Mapping[str, Any],
    seconds_per_epoch: Mapping[str, float],
    a: Assumptions,
    run_interactions: int | None = None,
) -> list[str]:
    """The real run's cost for Baby and Sports (markdown lines). Epoch times measured on a run with
    `run_interactions` interactions are scaled linearly to each dataset's interactions."""
    strategies = list(paper_config["features"]["strategies"])
    jobs = paper_jobs(paper_config)
    baby = REAL_DATASETS["baby"]
    source = "measured in this run"
    if not run_interactions or run_interactions < a.min_measured_share * baby["interactions"]:
        # A small run's epochs are mostly fixed costs: extrapolating them would mislead.
        seconds_per_epoch, run_interactions = dict(a.baby_epoch_s), baby["interactions"]
        source = "bench_train.py at full Baby size (idle CPU; this run was too small to extrapolate)"
    rows, totals = [], {"gpu_extract": 0.0, "cpu_train": 0.0, "gpu_train": 0.0, "disk": 0.0}
    for name, stats in REAL_DATASETS.items():
        extract_h, extract_jobs = extraction_hours(strategies, stats["items"], a)
        scale = stats["interactions"] / (run_interactions or baby["interactions"])
        train_s = sum(
            n
            * a.mean_epochs
            * seconds_per_epoch.get(model, max(seconds_per_epoch.values(), default=0.0))
            * scale
            for model, n in jobs.items()
        )
        disk = feature_bytes(strategies, stats["items"]) + stats["items"] * a.image_kb * 1024
        totals["gpu_extract"] += extract_h
        totals["cpu_train"] += train_s / 3600
        totals["gpu_train"] += train_s / 3600 / a.gpu_speedup
        totals["disk"] += disk
        rows.append(
            [
                name,
                f"{stats['items']:,} / {stats['interactions']:,}",
                f"{extract_jobs} jobs, {extract_h:.1f}",
                f"{sum(jobs.values())} runs",
                f"{train_s / 3600:,.0f}",
                f"{train_s / 3600 / a.gpu_speedup:,.0f}",
                _fmt_bytes(disk),
            ]
        )
    rows.append(
        [
            "**total**",
            "",
            f"{totals['gpu_extract']:.1f}",
            "",
            f"{totals['cpu_train']:,.0f}",
            f"{totals['gpu_train']:,.0f}",
            _fmt_bytes(totals["disk"]),
        ]
    )
    header = [
        "dataset",
        "items / interactions",
        "extraction GPU-h",
        "training",
        "training CPU-h",
        "training GPU-h",
        "features + images disk",
    ]
    per_model = ", ".join(f"{m} {n}" for m, n in jobs.items())
    rates = ", ".join(f"{k} {v:g}" for k, v in a.items_per_s.items())
    measured_on = run_interactions or baby["interactions"]
    measured = ", ".join(f"{m} {s:.2f} s" for m, s in sorted(seconds_per_epoch.items())) or "none"
    return [
        *_table(header, rows),
        "",
        f"- Strategies: {', '.join(strategies)}; training runs per dataset (grid points x features x "
        f"seeds): {per_model}.",
        f"- Extraction, **assumed** items/s on one H100 (not measured here): {rates}; plus "
        f"{a.job_overhead_s:g} s per job for loading. Replace with bench_extract.py's GPU figures "
        "(`--extract-rates`).",
        f"- Training: seconds per epoch, {source} (CPU, {measured_on:,} interactions): {measured}; "
        "scaled linearly to each dataset's interactions; "
        f"x {a.mean_epochs:g} epochs per run (**assumed** mean under early stopping, at most 1000). "
        "Models without a figure take the slowest listed one's. "
        f"GPU-h assume a x{a.gpu_speedup:g} speed-up over those CPU epochs (**unmeasured**).",
        f"- Disk: float32 features at their real dimensions, written twice (feature set + MMRec export), "
        f"plus images at an **assumed** {a.image_kb:g} KB each; raw downloads come on top (2014 Baby: "
        "ratings ~35 MB, image_features_Baby.b ~1 GB; Sports: ~125 MB and more).",
    ]


def write_run_plan(
    out: str | Path,
    results: str | Path,
    datasets: list[str],
    paper_config: Mapping[str, Any],
    header: Mapping[str, Any],
    resources: str | Path | None = None,
    assumptions: Assumptions | None = None,
    run_interactions: int | None = None,
) -> str:
    """Write `run_plan.md`; returns its text."""
    results = Path(results)
    a = assumptions or Assumptions()
    bench = read_benchmarks(results)
    rules = per_rule(bench) if len(bench) else pd.DataFrame()
    lines = ["# Run plan", ""]
    lines += [f"- {key}: {value}" for key, value in header.items()]
    lines += ["", "## Jobs per stage (this run)", ""]
    stage_rows = []
    if len(rules):
        for stage, group in rules.groupby("stage", sort=False):
            stage_rows.append(
                [
                    stage,
                    int(group["jobs"].sum()),
                    f"{group['total_s'].sum():,.1f}",
                    f"{group['peak_rss_mb'].max():,.0f}",
                ]
            )
    lines += _table(["stage", "jobs", "job seconds (sum)", "peak RSS MB (max)"], stage_rows)
    lines += ["", "## Wall time and peak memory per rule (Snakemake benchmark files)", ""]
    rule_rows = [
        [
            rule,
            row.stage,
            int(row.jobs),
            f"{row.total_s:,.1f}",
            f"{row.mean_s:,.1f}",
            f"{row.max_s:,.1f}",
            f"{row.peak_rss_mb:,.0f}",
        ]
        for rule, row in rules.iterrows()
    ]
    lines += _table(["rule", "stage", "jobs", "total s", "mean s", "max s", "peak RSS MB"], rule_rows)
    lines += ["", "## Disk per stage (this run)", ""]
    disk = disk_per_stage(results, datasets, Path(resources) if resources else None)
    lines += _table(["stage", "disk"], [[k, _fmt_bytes(v)] for k, v in disk.items()])
    lines += ["", "## Estimate for the real run (config/config.yaml: Amazon Baby and Sports)", ""]
    lines += estimate(paper_config, epoch_seconds(results, datasets), a, run_interactions)
    text = "\n".join(lines) + "\n"
    with atomic_path(out) as tmp:
        tmp.write_text(text)
    return text
