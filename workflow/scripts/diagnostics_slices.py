"""Rule `slices_table` -> results/slices.csv from every cell's metrics.json `slices`."""

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.report.diagnostic_plots import write_slices_csv

    write_slices_csv(list(snakemake.input), snakemake.output[0])
