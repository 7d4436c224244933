"""vlmrec.evaluation."""
