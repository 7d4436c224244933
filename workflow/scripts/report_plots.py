"""Rule `plots` (one dataset) -> vlmrec.report.plots.make_dataset_plots."""

from pathlib import Path

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.report.plots import PLOT_KINDS, make_dataset_plots
    from vlmrec.report.table import TableOrder

    output = snakemake.output
    make_dataset_plots(
        dataset=snakemake.wildcards.dataset,
        metrics_paths=list(snakemake.input.metrics),
        manifest_paths=list(snakemake.input.manifests),
        outputs={kind: (Path(output[kind]), Path(output[f"{kind}_svg"])) for kind in PLOT_KINDS},
        metric=snakemake.params.metric,
        k=snakemake.params.k,
        order=TableOrder(**snakemake.params.order),
        table_csv=snakemake.input.table,
        baseline=snakemake.params.baseline,
    )
