"""Snakemake adapter: build one feature set (encoded, reused or provided) for one dataset."""

import logging
from pathlib import Path

from vlmrec.utils.logs import setup_logging

setup_logging(snakemake.log[0])

from vlmrec.features.registry import build_feature_set  # noqa: E402


def main() -> None:
    params = dict(snakemake.params.items())
    strategy = params.pop("strategy")
    out_dir = Path(snakemake.output.manifest).parent
    reused = {
        key.removeprefix("reuse_"): Path(files[0]).parent
        for key, files in snakemake.input.items()
        if key.startswith("reuse_")
    }
    items = Path(snakemake.input.items_table)
    build_feature_set(
        strategy,
        items,
        out_dir,
        params,
        # The shard cache lives outside the job's outputs: Snakemake deletes those when a job fails.
        shards_root=out_dir.parent / ".shards",
        raw_dir=items.parent / "raw",
        reused_dirs=reused,
    )


try:
    main()
except Exception:
    logging.getLogger("vlmrec").exception("feature extraction failed")  # the traceback in the job log
    raise
