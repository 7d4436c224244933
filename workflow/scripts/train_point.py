"""Snakemake adapter for rule train_point: one grid point of a cell, every seed."""

from pathlib import Path

from vlmrec.training.grid import PointFiles, point_job
from vlmrec.utils.logs import setup_logging

setup_logging(snakemake.log[0])
features = [Path(f) for f in snakemake.input.get("features", [])]
feature_dir = next((f.parent for f in features if f.name == "manifest.json"), None)
point_job(
    interactions=snakemake.input.interactions,
    feature_dir=feature_dir,
    model=snakemake.wildcards.model,
    params=snakemake.params.model_params,
    point=snakemake.params.point,
    training=snakemake.params.training,
    out=PointFiles(
        Path(snakemake.output.result),
        Path(snakemake.output.per_user),
        Path(snakemake.output.curve),
        Path(snakemake.output.checkpoint),
    ),
    meta={"dataset": snakemake.wildcards.dataset, "feature": snakemake.wildcards.feature},
    threads=snakemake.threads,
)
