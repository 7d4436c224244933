"""Rule `diagnostic_plots` (one dataset) -> agreement and popularity figures (PNG + SVG)."""

from pathlib import Path

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.report.diagnostic_plots import make_diagnostic_plots

    output = snakemake.output
    make_diagnostic_plots(
        dataset=snakemake.wildcards.dataset,
        diagnostics_paths=list(snakemake.input.diagnostics),
        metrics_paths=list(snakemake.input.metrics),
        outputs={
            kind: (Path(output[kind]), Path(output[f"{kind}_svg"])) for kind in ("agreement", "popularity")
        },
        metric=snakemake.params.metric,
        k=snakemake.params.k,
        models=snakemake.params.models,
        strategies=snakemake.params.strategies,
    )
