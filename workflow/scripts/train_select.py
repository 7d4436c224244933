"""Snakemake adapter for rule select_cell: choose a cell's winning grid point, write its outputs."""

from pathlib import Path

from vlmrec.training.grid import PointFiles, select_cell
from vlmrec.utils.logs import setup_logging

setup_logging(snakemake.log[0])
points = [
    PointFiles(Path(result), Path(per_user), Path(curve), Path(checkpoint))
    for result, per_user, curve, checkpoint in zip(
        snakemake.input.result,
        snakemake.input.per_user,
        snakemake.input.curve,
        snakemake.input.checkpoint,
    )
]
select_cell(
    points,
    PointFiles(
        Path(snakemake.output.metrics),
        Path(snakemake.output.per_user),
        Path(snakemake.output.curve),
        Path(snakemake.output.checkpoint),
    ),
    select_on=snakemake.params.select_on,
    valid_metric=snakemake.params.valid_metric,
    meta={"dataset": snakemake.wildcards.dataset, "feature": snakemake.wildcards.feature},
)
