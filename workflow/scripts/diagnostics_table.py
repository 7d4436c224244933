"""Rule `diagnostics_table` -> results/diagnostics.csv (tidy), .md and .html (a table per dataset)."""

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.diagnostics.table import collect
    from vlmrec.report.diagnostic_plots import write_diagnostics_tables

    frame = collect(list(snakemake.input), snakemake.output.csv)
    write_diagnostics_tables(frame, snakemake.output.md, snakemake.output.html)
