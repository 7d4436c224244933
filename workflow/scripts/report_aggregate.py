"""Snakemake adapter: rules `aggregate` and `partial_table` -> vlmrec.report.aggregate."""

from pathlib import Path

from vlmrec.report.aggregate import AggregateOutputs, ReportSettings, aggregate
from vlmrec.report.table import TableOrder
from vlmrec.utils.logs import setup_logging

setup_logging(snakemake.log[0])
params = snakemake.params
output = snakemake.output
if hasattr(params, "finished"):  # partial_table: no file inputs, the finished cells come as params
    metrics_paths = [path for path, _mtime in params.finished]
else:
    metrics_paths = list(snakemake.input.metrics)
aggregate(
    metrics_paths=metrics_paths,
    outputs=AggregateOutputs(
        csv=Path(output.csv),
        md=Path(output.md),
        tex=Path(output.tex),
        html=Path(output.html),
        significance=Path(output.significance),
    ),
    settings=ReportSettings(
        metrics=params.metrics,
        k=params.k,
        baseline_feature=params.baseline,
        alpha=params.alpha,
        bootstrap_samples=params.bootstrap_samples,
        seed=params.seed,
    ),
    order=TableOrder(datasets=params.datasets, models=params.models, features=params.features),
    missing=[tuple(cell) for cell in params.missing],
)
