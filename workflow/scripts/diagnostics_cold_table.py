"""Rule `cold_table` -> results/cold_start.csv (tidy) and cold_start.md."""

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.diagnostics.cold_start import cold_table

    cold_table(
        list(snakemake.input),
        [tuple(pair) for pair in snakemake.params.not_applicable],
        snakemake.params.metrics,
        snakemake.params.k,
        snakemake.output.csv,
        snakemake.output.md,
    )
