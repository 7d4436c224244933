"""Rule `paper_comparison` -> vlmrec.report.paper.write_paper_comparison."""

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.report.paper import write_paper_comparison

    params = snakemake.params
    write_paper_comparison(
        table_csv=snakemake.input.table,
        output=snakemake.output.md,
        paper_table=params.paper_table,
        metrics=params.metrics,
        datasets=params.datasets,
        models=params.models,
        title=params.paper_title,
        html_output=snakemake.output.html,
    )
