"""Snakemake adapter: build one feature set (encoded, reused or provided) for one dataset."""

from pathlib import Path

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.features.registry import build_feature_set

    params = dict(snakemake.params.items())
    out_dir = Path(snakemake.output.manifest).parent
    items = Path(snakemake.input.items_table)
    build_feature_set(
        params.pop("strategy"),
        items,
        out_dir,
        params,
        # The shard cache (vlmrec.layout's shards_dir) lives outside the job's outputs: Snakemake
        # deletes those when a job fails.
        shards_root=out_dir.parent / ".shards",
        raw_dir=items.parent / "raw",
        reused_dirs={
            key.removeprefix("reuse_"): Path(files[0]).parent
            for key, files in snakemake.input.items()
            if key.startswith("reuse_")
        },
    )
