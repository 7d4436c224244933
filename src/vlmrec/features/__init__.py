"""vlmrec.features."""
