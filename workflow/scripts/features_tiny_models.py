"""Snakemake adapter: build the tiny offline stand-in models under resources/models/."""

import logging

from vlmrec.utils.logs import setup_logging

setup_logging(snakemake.log[0])

from vlmrec.features.tiny_models import build_tiny_models  # noqa: E402

try:
    build_tiny_models(snakemake.params.out_dir, seed=snakemake.params.seed)
except Exception:
    logging.getLogger("vlmrec").exception("building the tiny models failed")
    raise
