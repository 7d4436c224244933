"""Rule prefetch_models: snapshot every configured Hugging Face model into the hub cache."""

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.prefetch import prefetch_models

    prefetch_models(snakemake.params.features, snakemake.output[0])
