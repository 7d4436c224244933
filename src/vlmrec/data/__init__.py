"""vlmrec.data."""
