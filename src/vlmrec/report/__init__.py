"""vlmrec.report: the comparison table, significance tests, plots and the paper side by side.

Consumes the training stage's cell directories (`metrics.json`, `per_user_test.parquet`,
`curve.csv`) and the feature manifests; see docs/ARCHITECTURE.md for those contracts.
"""
