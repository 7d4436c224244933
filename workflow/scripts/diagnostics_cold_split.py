"""Rule `cold_split` (one dataset) -> the cold-start protocol's split (split.cold_items)."""

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.diagnostics.cold_start import make_cold_split

    make_cold_split(
        snakemake.input[0],
        snakemake.output.interactions,
        snakemake.output.stats,
        fraction=snakemake.params.fraction,
        seed=snakemake.params.seed,
    )
