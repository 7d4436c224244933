"""Rules `aggregate` (every cell is an input) and `partial_table` (the finished cells come as a
param, so it never waits for a cell) -> vlmrec.report.aggregate."""

from pathlib import Path

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.report.aggregate import AggregateOutputs, ReportSettings, aggregate
    from vlmrec.report.table import TableOrder

    params = snakemake.params
    partial = snakemake.rule == "partial_table"
    aggregate(
        metrics_paths=[path for path, _mtime in params.finished]
        if partial
        else list(snakemake.input.metrics),
        outputs=AggregateOutputs(**{name: Path(path) for name, path in snakemake.output.items()}),
        settings=ReportSettings(**params.settings),
        order=TableOrder(**params.order),
        missing=[tuple(cell) for cell in params.missing] if partial else [],
    )
