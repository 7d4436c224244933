"""vlmrec.models."""
