"""Readers: both ratings column orders, both meta formats (malformed lines), MMRec folders."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vlmrec.data.sources import clean_ratings, read_meta, read_mmrec_inter, read_ratings

META_2014 = [
    "{'asin': 'A1', 'title': 'Crib &amp; Sheet &quot;Soft&quot;', "
    "'categories': [['Baby', 'Nursery', 'Bedding']], "
    "'brand': 'Acme', 'imUrl': 'http://x/a1.jpg', 'description': 'Nice\\n  sheet'}",
    "{'asin': 'A2', 'categories': [['Baby']], 'imUrl': 'http://x/a2.jpg'}",  # no title
    "{'asin': 'A3', 'title': 'Broken",  # malformed: cut in the middle
    "__import__('os').system('echo pwned')",  # must never be executed
    "{'asin': 'A4', 'title': 'Bottle', 'categories': [], 'related': {'also_bought': ['A1']}}",
]


def write_gz(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def test_meta_2014_literal_dicts_with_malformed_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_gz(tmp_path / "meta_Baby.json.gz", META_2014)
    with caplog.at_level(logging.WARNING):
        meta = read_meta(path, "amazon2014", max_bad_fraction=0.5)
    assert meta["asin"].tolist() == ["A1", "A2", "A4"]
    a1 = meta.iloc[0]
    assert a1["title"] == 'Crib & Sheet "Soft"'
    assert a1["description"] == "Nice sheet"
    assert a1["categories"] == [["Baby", "Nursery", "Bedding"]]
    assert a1["image_url"] == "http://x/a1.jpg"
    assert pd.isna(meta.iloc[1]["title"])
    assert pd.isna(meta.iloc[2]["image_url"])
    assert f"{path}:3" in caplog.text and f"{path}:4" in caplog.text


def test_meta_rejects_file_with_too_many_bad_lines(tmp_path: Path) -> None:
    path = write_gz(tmp_path / "meta.json.gz", META_2014)
    with pytest.raises(ValueError, match=r"meta\.json\.gz.*malformed.*first at .*meta\.json\.gz:3"):
        read_meta(path, "amazon2014", max_bad_fraction=0.01)


def test_meta_2014_prefilter_by_wanted_asins(tmp_path: Path) -> None:
    path = write_gz(tmp_path / "meta.json.gz", [META_2014[0], META_2014[1], META_2014[4]])
    assert read_meta(path, "amazon2014", wanted={"A4"})["asin"].tolist() == ["A4"]


def test_meta_2018_json_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    records = [
        {
            "asin": "B1",
            "title": "Tent",
            "category": ["Sports &amp; Outdoors", "Camping"],
            "brand": "X",
            "description": ["Big", "tent"],
            "imageURLHighRes": ["https://h/b1.jpg"],
            "imageURL": ["https://s/b1.jpg"],
        },
        {"asin": "B2", "title": "Rope", "category": [], "imageURL": ["https://s/b2.jpg"], "price": ""},
        {"asin": "B3", "title": "", "main_cat": "Toys &amp; Games"},
    ]
    lines = [json.dumps(r) for r in records]
    lines.insert(1, "{'asin': 'B9', 'title': 'python literal, not JSON'}")
    path = tmp_path / "meta_Sports.json"  # plain text: gzip is detected, not assumed
    path.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        meta = read_meta(path, "amazon2018", max_bad_fraction=0.5)
    assert meta["asin"].tolist() == ["B1", "B2", "B3"]
    assert meta.iloc[0]["categories"] == [["Sports & Outdoors", "Camping"]]
    assert meta.iloc[0]["description"] == "Big tent"
    assert meta.iloc[0]["image_url"] == "https://h/b1.jpg"
    assert meta.iloc[1]["image_url"] == "https://s/b2.jpg"
    assert pd.isna(meta.iloc[2]["title"]) and pd.isna(meta.iloc[2]["image_url"])
    assert f"{path}:2" in caplog.text


@pytest.mark.parametrize(
    ("source", "line"), [("amazon2014", "U1,I1,5.0,100"), ("amazon2018", "I1,U1,5.0,100")]
)
def test_ratings_column_orders(tmp_path: Path, source: str, line: str) -> None:
    path = tmp_path / "r.csv"
    path.write_text(f"{line}\nU2,I2,,200\n{line}\n")
    frame = read_ratings(path, source)
    assert str(frame["user"].iloc[0]) == "U1" and str(frame["item"].iloc[0]) == "I1"
    cleaned = clean_ratings(frame)
    assert len(cleaned) == 1  # the NaN rating and the duplicate are gone
    assert cleaned["timestamp"].dtype == np.int64


def test_ratings_bad_file_names_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("U1,I1,5.0,100\nU2,I2,5.0\n")
    with pytest.raises(ValueError, match="bad.csv"):
        read_ratings(path, "amazon2014")


def test_mmrec_inter_reader(tmp_path: Path) -> None:
    path = tmp_path / "toy.inter"
    path.write_text("userID\titemID\trating\ttimestamp\tx_label\n0\t1\t5.0\t10\t0\n1\t0\t4.0\t11\t2\n")
    frame = read_mmrec_inter(path)
    assert frame["split"].tolist() == ["train", "test"]
    path.write_text("userID\titemID\trating\ttimestamp\tx_label\n0\t1\t5.0\t10\t0\n1\t0\t4.0\t11\t7\n")
    with pytest.raises(ValueError, match=r"toy.inter:3: x_label"):
        read_mmrec_inter(path)
    with pytest.raises(FileNotFoundError):
        read_mmrec_inter(tmp_path / "missing.inter")
    assert isinstance(frame, pd.DataFrame)


def test_truncated_gzip_meta_is_named(tmp_path: Path) -> None:
    whole = write_gz(tmp_path / "whole.json.gz", [META_2014[0]] * 2000)
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"cut.json.gz: unreadable after line \d+.*truncated"):
        read_meta(cut, "amazon2014")
    with pytest.raises(FileNotFoundError, match="absent.json.gz"):
        read_meta(tmp_path / "absent.json.gz", "amazon2014")
