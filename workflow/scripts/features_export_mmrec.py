"""Snakemake adapter: write one feature set in MMRec's data-folder format."""

import logging
from pathlib import Path

from vlmrec.utils.logs import setup_logging

setup_logging(snakemake.log[0])

from vlmrec.features.export import export_mmrec  # noqa: E402

try:
    export_mmrec(
        snakemake.input.interactions,
        Path(snakemake.input.features[0]).parent,
        Path(snakemake.output.inter).parent,
        snakemake.params.dataset,
    )
except Exception:
    logging.getLogger("vlmrec").exception("MMRec export failed")
    raise
