"""vlmrec.training."""
