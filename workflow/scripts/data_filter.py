"""Rule filter_interactions: clean the ratings, iterative k-core, candidate items' metadata."""

from vlmrec.data.build import filter_interactions
from vlmrec.utils.logs import setup_logging

setup_logging(snakemake.log[0])
filter_interactions(
    snakemake.input.ratings,
    snakemake.input.meta,
    snakemake.params.source,
    snakemake.params.k_core,
    snakemake.output.interactions,
    snakemake.output.items_meta,
    snakemake.params.max_bad_meta_fraction,
)
