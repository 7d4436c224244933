"""Rule `diagnose_features` (one dataset x feature set) -> vlmrec.diagnostics.run.diagnose."""

from pathlib import Path

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    import torch

    from vlmrec.diagnostics.measures import DiagnosticSettings
    from vlmrec.diagnostics.run import diagnose

    torch.set_num_threads(snakemake.threads)
    manifest = next(Path(f) for f in snakemake.input.features if Path(f).name == "manifest.json")
    diagnose(
        interactions=snakemake.input.interactions,
        feature_dir=manifest.parent,
        out=snakemake.output[0],
        settings=DiagnosticSettings.from_mapping(snakemake.params.settings),
        meta={"dataset": snakemake.wildcards.dataset, "strategy": snakemake.wildcards.strategy},
    )
