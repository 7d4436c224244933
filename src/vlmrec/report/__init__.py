"""vlmrec.report."""
