"""Snakemake adapter: rule `paper_comparison` -> vlmrec.report.paper.write_paper_comparison."""

from vlmrec.report.paper import write_paper_comparison
from vlmrec.utils.logs import setup_logging

setup_logging(snakemake.log[0])
params = snakemake.params
write_paper_comparison(
    table_csv=snakemake.input.table,
    output=snakemake.output.md,
    paper_table=params.paper_table,
    metrics=params.metrics,
    datasets=params.datasets,
    models=params.models,
)
