"""Rule demo_data: write one synthetic dataset in the Amazon 2014 raw formats."""

from pathlib import Path

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.data.demo import generate_demo

    generate_demo(
        Path(snakemake.output.ratings).parent,
        snakemake.params.category,
        snakemake.params.n_users,
        snakemake.params.n_items,
        snakemake.params.seed,
    )
