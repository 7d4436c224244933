"""The demo generator: real 2014 formats, deterministic, and content that predicts behaviour."""

from __future__ import annotations

import ast
import gzip
from pathlib import Path

import numpy as np
import pandas as pd

from vlmrec.data.demo import FEATURE_DIM, generate_demo


def test_formats_and_determinism(tmp_path: Path) -> None:
    a = generate_demo(tmp_path / "a", "Sports_and_Outdoors", n_users=200, n_items=60, seed=5)
    b = generate_demo(tmp_path / "b", "Sports_and_Outdoors", n_users=200, n_items=60, seed=5)
    c = generate_demo(tmp_path / "c", "Sports_and_Outdoors", n_users=200, n_items=60, seed=6)
    assert a.ratings.read_bytes() == b.ratings.read_bytes() != c.ratings.read_bytes()
    assert a.image_features.read_bytes() == b.image_features.read_bytes()
    meta_a = gzip.decompress(a.meta.read_bytes()).decode().replace(str((tmp_path / "a").resolve()), "X")
    meta_b = gzip.decompress(b.meta.read_bytes()).decode().replace(str((tmp_path / "b").resolve()), "X")
    assert meta_a == meta_b

    ratings = pd.read_csv(a.ratings, header=None, names=["user", "item", "rating", "timestamp"])
    assert ratings["rating"].between(1, 5).all() and ratings.duplicated().sum() > 0

    records, bad = [], 0
    for line in meta_a.splitlines():
        try:
            records.append(ast.literal_eval(line))
        except SyntaxError:
            bad += 1
    assert bad == 1 and len(records) == 60
    assert sum("title" not in r for r in records) == 1
    assert sum("imUrl" not in r for r in records) == 1
    assert any("&amp;" in r.get("title", "") or "&quot;" in r.get("title", "") for r in records)
    assert all(r["imUrl"].startswith("file://") for r in records if "imUrl" in r)

    size = a.image_features.stat().st_size
    record = 10 + 4 * FEATURE_DIM
    assert size % record == 0 and 0 < size // record < 60


def test_interactions_follow_item_topics(tmp_path: Path) -> None:
    """Two items bought by the same user share a topic far more often than chance."""
    files = generate_demo(tmp_path, "Baby", n_users=300, n_items=300, seed=1)
    with gzip.open(files.meta, "rt") as handle:
        meta = [ast.literal_eval(line) for line in handle if line.startswith("{'asin'")]
    topic = {r["asin"]: r["categories"][0][1] for r in meta if r.get("categories")}
    ratings = pd.read_csv(files.ratings, header=None, names=["user", "item", "rating", "timestamp"])
    ratings = ratings[ratings["item"].isin(topic)]
    same, pairs = 0, 0
    for _, items in ratings.groupby("user")["item"]:
        topics = np.array([topic[i] for i in items])
        eq = topics[:, None] == topics[None, :]
        same += int(eq.sum() - len(topics))
        pairs += len(topics) * (len(topics) - 1)
    shares = pd.Series(list(topic.values())).value_counts(normalize=True)
    chance = float((shares**2).sum())
    assert same / pairs > 2 * chance
