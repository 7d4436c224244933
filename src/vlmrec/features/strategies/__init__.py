"""vlmrec.features.strategies."""
