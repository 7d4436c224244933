"""Snakemake adapter: rule `plots` (one dataset) -> vlmrec.report.plots.make_dataset_plots."""

from pathlib import Path

from vlmrec.report.plots import PLOT_KINDS, make_dataset_plots
from vlmrec.report.table import TableOrder
from vlmrec.utils.logs import setup_logging

setup_logging(snakemake.log[0])
params = snakemake.params
make_dataset_plots(
    dataset=snakemake.wildcards.dataset,
    metrics_paths=list(snakemake.input.metrics),
    manifest_paths=list(snakemake.input.manifests),
    outputs={
        kind: (Path(snakemake.output[kind]), Path(snakemake.output[f"{kind}_svg"])) for kind in PLOT_KINDS
    },
    metric=params.metric,
    k=params.k,
    order=TableOrder(datasets=params.datasets, models=params.models, features=params.features),
)
