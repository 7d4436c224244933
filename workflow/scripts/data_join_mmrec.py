"""Rule join_mmrec_meta: MMRec's item ids joined with the Amazon 2014 metadata by asin."""

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.data.build import join_mmrec_meta

    join_mmrec_meta(
        snakemake.params.path,
        snakemake.input.meta,
        snakemake.output.items_meta,
        mapping_file=snakemake.params.mapping_file,
        max_missing_fraction=snakemake.params.max_missing_fraction,
        max_bad_meta_fraction=snakemake.params.max_bad_meta_fraction,
    )
