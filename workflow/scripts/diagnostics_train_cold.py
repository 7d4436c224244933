"""Rule `train_cold` (dataset x model x feature) -> cold-item metrics of the cold-start protocol."""

from pathlib import Path

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.diagnostics.cold_train import cold_cell

    manifest = next(Path(f) for f in snakemake.input.features if Path(f).name == "manifest.json")
    cold_cell(
        interactions=snakemake.input.interactions,
        feature_dir=manifest.parent,
        cell_metrics=snakemake.input.cell_metrics,
        model=snakemake.wildcards.model,
        params=snakemake.params.model_params,
        training=snakemake.params.training,
        out=snakemake.output[0],
        meta={"dataset": snakemake.wildcards.dataset, "feature": snakemake.wildcards.feature},
        threads=snakemake.threads,
    )
