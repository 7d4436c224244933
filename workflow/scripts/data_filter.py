"""Rule filter_interactions: clean the ratings, iterative k-core, candidate items' metadata."""

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.data.build import filter_interactions

    filter_interactions(
        snakemake.input.ratings,
        snakemake.input.meta,
        snakemake.params.source,
        snakemake.params.k_core,
        snakemake.output.interactions,
        snakemake.output.items_meta,
        snakemake.params.max_bad_meta_fraction,
    )
