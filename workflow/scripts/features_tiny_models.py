"""Snakemake adapter: build the tiny offline stand-in models under resources/models/."""

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.features.tiny_models import build_tiny_models

    build_tiny_models(snakemake.params.out_dir, seed=snakemake.params.seed)
