"""Snakemake adapter: write one feature set in MMRec's data-folder format."""

from pathlib import Path

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.features.export import export_mmrec

    export_mmrec(
        snakemake.input.interactions,
        Path(snakemake.input.features[0]).parent,
        Path(snakemake.output.inter).parent,
        snakemake.params.dataset,
    )
