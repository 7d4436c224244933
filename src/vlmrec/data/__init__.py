"""vlmrec.data: the data stage.

download (resumable HTTP / file: downloads), images (fetch, verify, RGB, manifest), sources
(amazon2014 / amazon2018 / mmrec readers), kcore, split, text (item text template), demo (the
embedded synthetic data), build (filter_interactions, build_dataset), cli (`python -m vlmrec ...`).
"""
