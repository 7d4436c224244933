"""Readers for the three sources: Amazon 2014, Amazon 2018 and MMRec's released folders.

- amazon2014: `ratings_<Cat>.csv` (no header: user,item,rating,timestamp) and `meta_<Cat>.json.gz`
  with one *Python literal* dict per line, parsed with `ast.literal_eval` (never `eval`).
- amazon2018: `<Cat>.csv` (no header: item,user,rating,timestamp) and strict JSON meta lines.
- mmrec: `<name>.inter` (tab-separated, header userID itemID rating timestamp x_label) taken as
  already filtered and split; optional `i_id_mapping.csv` gives the asins.

Malformed meta lines are skipped and reported with `file:line`; when more than
`max_bad_fraction` of the parsed lines are malformed the file is evidently in another format (or
damaged) and reading fails naming the file and the first bad line.
"""

from __future__ import annotations

import ast
import gzip
import html
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

log = logging.getLogger(__name__)

RATINGS_COLUMNS = {
    "amazon2014": ["user", "item", "rating", "timestamp"],
    "amazon2018": ["item", "user", "rating", "timestamp"],
}
_ASIN_PATTERNS = {
    "amazon2014": re.compile(r"""['"]asin['"]\s*:\s*['"]([^'"]*)['"]"""),
    "amazon2018": re.compile(r'"asin"\s*:\s*"([^"]*)"'),
}
_SPACE = re.compile(r"\s+")
MAX_REPORTED_BAD_LINES = 20
SPLIT_BY_LABEL = {0: "train", 1: "valid", 2: "test"}


@dataclass(frozen=True)
class RatingCodes:
    """A ratings file as integer codes: ids are indices into `user_ids` / `item_ids` (-1: empty).

    Cleaning and k-core work on these codes; strings are decoded only for the surviving rows,
    which keeps the 3.3M-row Sports file at a few seconds and about 1 GB.
    """

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    user_ids: pa.Array
    item_ids: pa.Array

    def __len__(self) -> int:
        return len(self.user)


def _encode(column: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    encoded = column.combine_chunks().dictionary_encode()
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    return codes, encoded.dictionary


def read_ratings_codes(path: str | Path, source: str) -> RatingCodes:
    """Read a ratings CSV (no header; column order per source) with pyarrow's threaded reader."""
    if source not in RATINGS_COLUMNS:
        raise ValueError(f"source {source!r} has no ratings CSV (expected one of {list(RATINGS_COLUMNS)})")
    names = RATINGS_COLUMNS[source]
    convert = pacsv.ConvertOptions(
        column_types={
            "user": pa.string(),
            "item": pa.string(),
            "rating": pa.float32(),
            "timestamp": pa.float64(),
        },
        null_values=[""],
        strings_can_be_null=True,
    )
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, block_size=16 << 20),
            convert_options=convert,
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(f"{path}: cannot read as a {source} ratings CSV ({','.join(names)}): {exc}") from exc
    user, user_ids = _encode(table.column("user"))
    item, item_ids = _encode(table.column("item"))
    ratings = RatingCodes(
        user=user,
        item=item,
        rating=table.column("rating").to_numpy().astype(np.float32, copy=False),
        timestamp=table.column("timestamp").to_numpy().astype(np.float64, copy=False),
        user_ids=user_ids,
        item_ids=item_ids,
    )
    log.info("%s: %d rating rows, %d users, %d items", path, len(ratings), len(user_ids), len(item_ids))
    return ratings


def clean_mask(ratings: RatingCodes) -> np.ndarray:
    """MMRec's cleaning as a row mask: drop rows with a missing field, then duplicates of
    (user, item, timestamp) (the first occurrence stays)."""
    valid = (
        (ratings.user >= 0) & (ratings.item >= 0) & ~np.isnan(ratings.rating) & ~np.isnan(ratings.timestamp)
    )
    keys = pd.DataFrame({"u": ratings.user, "i": ratings.item, "t": ratings.timestamp})
    duplicate = keys.duplicated().to_numpy() & valid
    log.info(
        "cleaning: %d rows with a missing field, %d duplicates", int((~valid).sum()), int(duplicate.sum())
    )
    return valid & ~duplicate


def decode_rows(ratings: RatingCodes, mask: np.ndarray) -> pd.DataFrame:
    """DataFrame(user, item: str; rating float32; timestamp int64) of the masked rows, in file order."""
    rows = np.flatnonzero(mask)
    return pd.DataFrame(
        {
            "user": ratings.user_ids.take(pa.array(ratings.user[rows])).to_numpy(zero_copy_only=False),
            "item": ratings.item_ids.take(pa.array(ratings.item[rows])).to_numpy(zero_copy_only=False),
            "rating": ratings.rating[rows],
            "timestamp": ratings.timestamp[rows].astype(np.int64),
        }
    )


def read_ratings(path: str | Path, source: str) -> pd.DataFrame:
    """Ratings CSV -> DataFrame(user, item: str; rating float32; timestamp float64, NaN kept)."""
    codes = read_ratings_codes(path, source)
    frame = decode_rows(codes, np.ones(len(codes), dtype=bool)) if len(codes) else None
    if frame is None:
        return pd.DataFrame(columns=["user", "item", "rating", "timestamp"])
    frame["timestamp"] = codes.timestamp
    frame.loc[codes.user < 0, "user"] = None
    frame.loc[codes.item < 0, "item"] = None
    return frame


def clean_ratings(frame: pd.DataFrame) -> pd.DataFrame:
    """MMRec's cleaning on a DataFrame: dropna, then drop duplicate (user, item, timestamp)."""
    before = len(frame)
    frame = frame.dropna()
    after_na = len(frame)
    frame = frame.drop_duplicates(subset=["user", "item", "timestamp"]).reset_index(drop=True)
    frame["timestamp"] = frame["timestamp"].astype(np.int64)
    log.info("cleaning: %d rows with NaN, %d duplicates dropped", before - after_na, after_na - len(frame))
    return frame


def clean_text(value: Any) -> str:
    """HTML entities unescaped (twice, for `&amp;amp;`), whitespace collapsed; None -> ""."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, list | tuple):
        value = " ".join(clean_text(v) for v in value)
    text = html.unescape(html.unescape(str(value)))
    return _SPACE.sub(" ", text).strip()


def _open_text(path: Path) -> Any:
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _normalise_2014(record: dict[str, Any]) -> dict[str, Any]:
    categories = record.get("categories") or []
    if categories and not isinstance(categories[0], list | tuple):
        categories = [categories]
    return _meta_row(record, categories, record.get("imUrl") or None)


def _normalise_2018(record: dict[str, Any]) -> dict[str, Any]:
    category = record.get("category") or []
    if isinstance(category, str):
        category = [category]
    urls = record.get("imageURLHighRes") or record.get("imageURL") or []
    if isinstance(urls, str):
        urls = [urls]
    return _meta_row(record, [category] if category else [], urls[0] if urls else None)


def _meta_row(record: dict[str, Any], categories: list[list[str]], image_url: str | None) -> dict[str, Any]:
    """One metadata row of either release: its text fields and category paths cleaned."""
    return {
        "asin": str(record["asin"]),
        "title": clean_text(record.get("title")) or None,
        "brand": clean_text(record.get("brand")),
        "description": clean_text(record.get("description")),
        "categories": [[clean_text(c) for c in path] for path in categories],
        "image_url": image_url,
    }


def _parse_line(line: str, source: str) -> dict[str, Any]:
    # 2014 lines are Python literals (single quotes): literal_eval, never eval.
    record = ast.literal_eval(line) if source == "amazon2014" else json.loads(line)
    if not isinstance(record, dict):
        raise ValueError(f"a {type(record).__name__}, not a dict")
    if "asin" not in record:
        raise ValueError("no 'asin' field")
    return record


def iter_meta(
    path: str | Path, source: str, wanted: set[str] | None = None, max_bad_fraction: float = 0.01
) -> Iterator[dict[str, Any]]:
    """Normalised meta records (asin, title, brand, description, categories, image_url).

    With `wanted`, lines whose asin is visibly elsewhere are skipped unparsed (the Sports meta
    has 532k lines for 18k items). Malformed lines are reported as `file:line` and skipped.
    """
    if source not in _ASIN_PATTERNS:
        raise ValueError(f"source {source!r} has no meta file")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"meta file {path} not found")
    pattern = _ASIN_PATTERNS[source]
    normalise = _normalise_2014 if source == "amazon2014" else _normalise_2018
    parsed = bad = 0
    first_bad = ""
    number = 0
    try:
        with _open_text(path) as handle:
            for number, line in enumerate(handle, start=1):
                line = line.strip()
                if not line:
                    continue
                if wanted is not None:
                    match = pattern.search(line)
                    if match and match.group(1) not in wanted:
                        continue
                parsed += 1
                try:
                    record = normalise(_parse_line(line, source))
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
                    bad += 1
                    first_bad = first_bad or f"{path}:{number}"
                    if bad <= MAX_REPORTED_BAD_LINES:
                        log.warning("%s:%d: malformed %s meta line skipped (%s)", path, number, source, exc)
                    continue
                yield record
    except (EOFError, OSError, UnicodeError) as exc:
        # A truncated or damaged download (gzip stream cut short): say so, naming file and line.
        raise ValueError(
            f"{path}: unreadable after line {number} ({exc}); the file is truncated or corrupt. "
            "Delete it (and its .sha256.json) and re-run to download it again."
        ) from exc
    if bad > MAX_REPORTED_BAD_LINES:
        log.warning("%s: %d malformed lines skipped in all", path, bad)
    if parsed and bad / parsed > max_bad_fraction:
        raise ValueError(
            f"{path}: {bad} of {parsed} parsed meta lines are malformed (first at {first_bad}), more than "
            f"{max_bad_fraction:.1%}; is this really a {source} meta file "
            f"({'Python-literal dicts' if source == 'amazon2014' else 'JSON lines'})?"
        )


def read_meta(
    path: str | Path, source: str, wanted: set[str] | None = None, max_bad_fraction: float = 0.01
) -> pd.DataFrame:
    """Meta records as a DataFrame, one row per asin (the first record wins)."""
    records = list(iter_meta(path, source, wanted, max_bad_fraction))
    columns = ["asin", "title", "brand", "description", "categories", "image_url"]
    frame = pd.DataFrame.from_records(records, columns=columns)
    duplicates = int(frame["asin"].duplicated().sum())
    if duplicates:
        log.warning("%s: %d duplicate asins; the first record of each is kept", path, duplicates)
        frame = frame.drop_duplicates(subset="asin").reset_index(drop=True)
    log.info("%s: %d meta records", path, len(frame))
    return frame


def read_mmrec_inter(path: str | Path) -> pd.DataFrame:
    """MMRec's `.inter` -> DataFrame(user_id, item_id, rating, timestamp, split); ids kept as is."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mmrec source: {path} not found")
    frame = pd.read_csv(path, sep="\t")
    required = ["userID", "itemID", "x_label"]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {missing}; MMRec's header is userID itemID rating timestamp x_label"
        )
    if frame[required].isna().any().any():
        row = int(np.flatnonzero(frame[required].isna().any(axis=1).to_numpy())[0])
        raise ValueError(f"{path}:{row + 2}: empty userID/itemID/x_label")
    labels = frame["x_label"].astype(np.int64)
    bad = ~labels.isin(list(SPLIT_BY_LABEL))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{path}:{row + 2}: x_label must be 0, 1 or 2, got {labels.iloc[row]}")
    out = pd.DataFrame(
        {
            "user_id": frame["userID"].astype(np.int64),
            "item_id": frame["itemID"].astype(np.int64),
            "rating": frame["rating"].astype(np.float32) if "rating" in frame else np.float32(1.0),
            "timestamp": frame["timestamp"].fillna(0).astype(np.int64) if "timestamp" in frame else 0,
            "split": labels.map(SPLIT_BY_LABEL).astype("str"),
        }
    )
    if (out["user_id"] < 0).any() or (out["item_id"] < 0).any():
        raise ValueError(f"{path}: negative userID/itemID")
    return out


def read_mmrec_mapping(path: str | Path, id_column: str) -> pd.DataFrame | None:
    """MMRec's `i_id_mapping.csv` / `u_id_mapping.csv` (tab-separated: original id, dense id)."""
    path = Path(path)
    if not path.is_file():
        return None
    frame = pd.read_csv(path, sep="\t", dtype=str)
    if frame.shape[1] < 2 or id_column not in frame.columns:
        raise ValueError(f"{path}: expected two tab-separated columns with {id_column!r} in the header")
    original = [c for c in frame.columns if c != id_column][0]
    return pd.DataFrame({"original": frame[original].astype(str), "dense": frame[id_column].astype(np.int64)})


# ------------------------------------------------------------------------------------ dataset content
# Raw files an `mmrec` folder may carry (the `provided` feature set) and the 2014 CNN features.
PROVIDED_FEATURE_FILES = ("image_feat.npy", "text_feat.npy")
IMAGE_FEATURES_FILE = "image_features.b"
DEFAULT_ITEM_MAPPING = "i_id_mapping.csv"


def dataset_content(dataset_config: Mapping[str, Any]) -> dict[str, Any]:
    """What item content a configured dataset will have, decided from its config alone (torch-free,
    for plan-time validation): ``{"text": bool, "images": bool, "raw": [file names]}``.

    - amazon2014 / amazon2018 (and the demo): titles and categories from the metadata, images from
      its URLs; ``raw`` lists ``image_features.b`` when ``image_features_url`` is set.
    - mmrec: text and images only when ``meta_url`` names the Amazon 2014 metadata to join by asin
      (``images: false`` skips the images); ``raw`` lists the release's ``image_feat.npy`` /
      ``text_feat.npy`` that exist in ``path`` (the `provided` strategy) and ``image_features.b``.
    """
    source = dataset_config.get("source")
    raw: list[str] = []
    if source == "mmrec":
        has_meta = bool(dataset_config.get("meta_url"))
        text, images = has_meta, has_meta and bool(dataset_config.get("images", True))
        folder = Path(str(dataset_config.get("path", "")))
        raw += [name for name in PROVIDED_FEATURE_FILES if (folder / name).is_file()]
    elif source in RATINGS_COLUMNS:
        text = images = True
    else:
        raise ValueError(f"datasets.*.source {source!r} is not one of amazon2014, amazon2018, mmrec")
    if dataset_config.get("image_features_url"):
        raw.append(IMAGE_FEATURES_FILE)
    return {"text": text, "images": images, "raw": raw}
