"""The data stage's library functions: filter (clean + k-core) and build (split, items, stats).

`filter_interactions` turns a raw ratings file into the k-core candidates and the metadata of the
candidate items (whose images are then fetched). `build_dataset` applies the missing-image policy
(`drop` removes items without a usable image and re-runs the k-core), re-indexes densely in order of
first appearance (MMRec's `pd.unique`), splits, and writes the files of the data contract
(docs/ARCHITECTURE.md). `build_mmrec_dataset` does the same for an already split MMRec folder.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vlmrec.data import images as img
from vlmrec.data.kcore import kcore_mask
from vlmrec.data.sources import (
    DEFAULT_ITEM_MAPPING,
    RatingCodes,
    clean_mask,
    decode_rows,
    read_meta,
    read_mmrec_inter,
    read_mmrec_mapping,
    read_ratings_codes,
)
from vlmrec.data.split import SPLIT_NAMES, split_labels
from vlmrec.data.text import check_template, item_text_columns
from vlmrec.utils.io import atomic_path, write_csv, write_json, write_parquet

log = logging.getLogger(__name__)

META_COLUMNS = ["asin", "title", "brand", "description", "categories", "image_url"]
NO_IMAGE_SOURCE = "no_source"
# items.parquet's columns, in the order of docs/ARCHITECTURE.md.
ITEM_COLUMNS = [
    "item_id",
    "asin",
    "title",
    "category",
    "text",
    "brand",
    "description",
    "category_path",
    "image_path",
    "image_status",
]


@dataclass(frozen=True)
class BuildOptions:
    """Parameters of build_dataset (the `preprocess`, `split`, `images` sections)."""

    k_core: int = 5
    text_template: str = "{title}, category: {category}"
    category_level: str = "last"
    split_method: str = "per_user_random"
    split_seed: int = 999
    missing_policy: str = "mean"
    source: str = "amazon2014"
    expected_stats: dict[str, int] = field(default_factory=dict)
    item_mapping_file: str = DEFAULT_ITEM_MAPPING


@dataclass(frozen=True)
class DatasetOutputs:
    interactions: Path
    items: Path
    stats: Path
    user_map: Path
    item_map: Path

    @classmethod
    def in_dir(cls, folder: str | Path) -> DatasetOutputs:
        folder = Path(folder)
        return cls(
            folder / "interactions.parquet",
            folder / "items.parquet",
            folder / "stats.json",
            folder / "user_map.csv",
            folder / "item_map.csv",
        )


def kcore_candidates(ratings: RatingCodes, k: int) -> tuple[pd.DataFrame, int]:
    """Clean + iterative k-core on integer codes; the surviving rows decoded, in file order.
    Returns (rows, rounds)."""
    clean = clean_mask(ratings)
    rows = np.flatnonzero(clean)
    result = kcore_mask(ratings.user[rows], ratings.item[rows], k)
    mask = np.zeros(len(ratings), dtype=bool)
    mask[rows[result.mask]] = True
    kept = decode_rows(ratings, mask)
    log.info(
        "%d-core: %d rows, %d users, %d items after %d rounds",
        k,
        len(kept),
        kept["user"].nunique(),
        kept["item"].nunique(),
        result.rounds,
    )
    return kept, result.rounds


def filter_interactions(
    ratings_path: str | Path,
    meta_path: str | Path,
    source: str,
    k: int,
    out_interactions: str | Path,
    out_items_meta: str | Path,
    max_bad_meta_fraction: float = 0.01,
) -> None:
    """Raw ratings + meta -> interim k-core rows and the candidate items' metadata."""
    kept, _ = kcore_candidates(read_ratings_codes(ratings_path, source), k)
    candidates = pd.unique(kept["item"])
    meta = read_meta(meta_path, source, wanted=set(candidates), max_bad_fraction=max_bad_meta_fraction)
    items = pd.DataFrame({"asin": candidates}).merge(meta, on="asin", how="left")[META_COLUMNS]
    without = int(items["title"].isna().sum())
    log.info("%d candidate items, %d without a meta record or title", len(items), without)
    write_parquet(out_interactions, kept)
    write_parquet(out_items_meta, items)


def apply_missing_policy(
    rows: pd.DataFrame, manifest: pd.DataFrame | None, policy: str, k: int
) -> tuple[pd.DataFrame, int]:
    """`drop`: remove items without a usable image, then re-run the k-core (MMRec keeps them and
    fills their features with the mean: `mean`). Returns (rows, items dropped for images)."""
    if policy not in ("mean", "drop"):
        raise ValueError(f"images.missing_policy must be 'mean' or 'drop', got {policy!r}")
    if policy == "mean" or manifest is None:
        return rows, 0
    bad = set(manifest.loc[manifest["status"] != img.OK, "asin"].astype(str))
    dropped = rows["item"].isin(bad)
    n_bad_items = int(rows.loc[dropped, "item"].nunique())
    rows = rows.loc[~dropped].reset_index(drop=True)
    result = kcore_mask(pd.factorize(rows["user"])[0], pd.factorize(rows["item"])[0], k)
    rows = rows.loc[result.mask].reset_index(drop=True)
    log.info(
        "missing_policy=drop: %d items without image removed, k-core re-run (%d rounds): %d rows left",
        n_bad_items,
        result.rounds,
        len(rows),
    )
    return rows, n_bad_items


def compare_expected(stats: dict[str, Any], expected: dict[str, int] | None, dataset: str) -> bool | None:
    """Compare users/items/interactions with `expected_stats`; warn loudly on a mismatch."""
    if not expected:
        return None
    diffs = {key: (value, stats[key]) for key, value in expected.items() if stats.get(key) != value}
    stats["expected_stats"] = dict(expected)
    if not diffs:
        log.info("%s matches expected_stats %s", dataset, expected)
        return True
    stats["expected_stats_mismatch"] = {k: {"expected": e, "actual": a} for k, (e, a) in diffs.items()}
    lines = ", ".join(f"{k}: expected {e}, got {a}" for k, (e, a) in diffs.items())
    log.warning("=" * 78)
    log.warning("%s DOES NOT MATCH expected_stats (the paper's Table 1): %s", dataset, lines)
    log.warning("The comparison with the paper's numbers is not like for like.")
    log.warning("=" * 78)
    return False


def _stats(interactions: pd.DataFrame, n_users: int, n_items: int, source: str) -> dict[str, Any]:
    counts = interactions["split"].value_counts()
    n = len(interactions)
    return {
        "users": int(n_users),
        "items": int(n_items),
        "interactions": int(n),
        "density": float(n / (n_users * n_items)) if n_users and n_items else 0.0,
        "split": {name: int(counts.get(name, 0)) for name in ("train", "valid", "test")},
        "source": source,
    }


def _write_outputs(
    outputs: DatasetOutputs,
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    stats: dict[str, Any],
    user_map: pd.DataFrame,
    item_map: pd.DataFrame,
) -> None:
    write_parquet(outputs.interactions, interactions)
    write_parquet(outputs.items, items)
    for frame, path in ((user_map, outputs.user_map), (item_map, outputs.item_map)):
        write_csv(path, frame)
    write_json(outputs.stats, stats)


def _items_frame(
    asins: np.ndarray,
    meta: pd.DataFrame,
    manifest: pd.DataFrame | None,
    image_dir: Path | None,
    options: BuildOptions,
) -> pd.DataFrame:
    meta = pd.DataFrame({"asin": asins}).merge(meta, on="asin", how="left")
    meta["categories"] = [c if isinstance(c, list | np.ndarray) else [] for c in meta["categories"]]
    items = item_text_columns(meta, options.text_template, options.category_level)
    items.insert(0, "item_id", np.arange(len(items), dtype=np.int64))
    if manifest is not None and image_dir is not None:
        by_asin = manifest.set_index("asin")
        status = by_asin["status"].reindex(items["asin"]).fillna(img.MISSING_URL).to_numpy()
        names = by_asin["path"].reindex(items["asin"]).to_numpy()
        paths = [
            str(image_dir / str(name)) if s == img.OK and isinstance(name, str) else None
            for s, name in zip(status, names)
        ]
    else:
        status = np.full(len(items), NO_IMAGE_SOURCE, dtype=object)
        paths = [None] * len(items)
    items["image_path"] = pd.array(paths, dtype="str")
    items["image_status"] = pd.array(status, dtype="str")
    for column in ("asin", "title", "category", "text", "brand", "description", "category_path"):
        items[column] = items[column].astype("str")
    return items[ITEM_COLUMNS]


def build_dataset(
    interim_path: str | Path,
    items_meta_path: str | Path,
    manifest_path: str | Path | None,
    outputs: DatasetOutputs,
    options: BuildOptions,
    dataset: str = "dataset",
) -> dict[str, Any]:
    """k-core candidates + meta + image manifest -> the data contract's files; returns stats."""
    check_template(options.text_template)
    rows = pd.read_parquet(interim_path)
    rows["user"] = rows["user"].astype(str)
    rows["item"] = rows["item"].astype(str)
    manifest = pd.read_parquet(manifest_path) if manifest_path else None
    rows, dropped_items = apply_missing_policy(rows, manifest, options.missing_policy, options.k_core)
    if rows.empty:
        raise RuntimeError(f"{dataset}: no interactions left after filtering (k_core={options.k_core})")
    user_codes, users = pd.factorize(rows["user"].to_numpy())
    item_codes, asins = pd.factorize(rows["item"].to_numpy())
    labels = split_labels(
        options.split_method, user_codes, item_codes, rows["timestamp"].to_numpy(), options.split_seed
    )
    interactions = pd.DataFrame(
        {
            "user_id": user_codes.astype(np.int64),
            "item_id": item_codes.astype(np.int64),
            "rating": rows["rating"].to_numpy(dtype=np.float32),
            "timestamp": rows["timestamp"].to_numpy(dtype=np.int64),
            "split": pd.array(SPLIT_NAMES[labels], dtype="str"),
        }
    )
    meta = pd.read_parquet(items_meta_path)
    image_dir = Path(manifest_path).parent if manifest_path else None
    items = _items_frame(np.asarray(asins, dtype=object), meta, manifest, image_dir, options)
    stats = _stats(interactions, len(users), len(asins), options.source)
    missing = int((items["image_status"] != img.OK).sum())
    stats.update(
        missing_images=missing,
        missing_policy=options.missing_policy,
        items_dropped_for_missing_images=dropped_items,
        k_core=options.k_core,
        split_method=options.split_method,
    )
    stats["expected_stats_match"] = compare_expected(stats, options.expected_stats, dataset)
    user_map = pd.DataFrame({"original_id": users, "user_id": np.arange(len(users), dtype=np.int64)})
    item_map = pd.DataFrame({"asin": asins, "item_id": np.arange(len(asins), dtype=np.int64)})
    _write_outputs(outputs, interactions, items, stats, user_map, item_map)
    log.info("%s: %s", dataset, {k: stats[k] for k in ("users", "items", "interactions", "split")})
    return stats


def join_mmrec_meta(
    folder: str | Path,
    meta_path: str | Path,
    out_items_meta: str | Path,
    mapping_file: str = DEFAULT_ITEM_MAPPING,
    max_missing_fraction: float = 0.01,
    max_bad_meta_fraction: float = 0.01,
) -> pd.DataFrame:
    """MMRec's item ids joined with the Amazon 2014 metadata by asin (through `i_id_mapping.csv`).

    Writes the same `items_meta.parquet` as `filter_interactions` (one row per release item, in
    itemID order, plus `item_id`), so the image fetcher and `build_dataset` treat an mmrec release
    like the raw data while its split and ids stay MMRec's. An item the metadata lacks keeps an empty
    title and category (MMRec's NaN -> " ") and no image URL (its image features follow the
    strategy's missing policy); more than `max_missing_fraction` of such items fails, naming counts.
    """
    folder = Path(folder)
    mapping_path = folder / mapping_file
    mapping = read_mmrec_mapping(mapping_path, "itemID")
    if mapping is None:
        raise FileNotFoundError(
            f"mmrec source: {mapping_path} not found; it maps asin -> itemID and is needed to join "
            "the metadata (datasets.<name>.item_mapping_file names another file)"
        )
    if mapping["dense"].duplicated().any() or (mapping["dense"] < 0).any():
        raise ValueError(f"{mapping_path}: itemIDs must be unique and >= 0")
    mapping = mapping.sort_values("dense").reset_index(drop=True)
    meta = read_meta(meta_path, "amazon2014", set(mapping["original"]), max_bad_meta_fraction)
    items = mapping.rename(columns={"original": "asin", "dense": "item_id"})
    items = items.merge(meta, on="asin", how="left")
    items["has_meta"] = items["asin"].isin(meta["asin"])
    lacking = items.loc[~items["has_meta"], "asin"]
    fraction = len(lacking) / max(len(items), 1)
    log.info(
        "%s: %d of %d release items found in %s (%d without a record)",
        mapping_path, len(items) - len(lacking), len(items), meta_path, len(lacking),
    )  # fmt: skip
    if fraction > max_missing_fraction:
        raise ValueError(
            f"{meta_path}: {len(lacking)} of {len(items)} items of {mapping_path} ({fraction:.1%}) have no "
            f"meta record (first: {', '.join(lacking.head(5))}), more than "
            f"max_missing_meta_fraction={max_missing_fraction}; is it the metadata of the release's category?"
        )
    items = items[["item_id", *META_COLUMNS, "has_meta"]]
    write_parquet(out_items_meta, items)
    return items


def build_mmrec_dataset(
    folder: str | Path,
    inter_file: str,
    outputs: DatasetOutputs,
    options: BuildOptions,
    dataset: str = "dataset",
    items_meta_path: str | Path | None = None,
    manifest_path: str | Path | None = None,
) -> dict[str, Any]:
    """An MMRec folder, already filtered and split, -> the data contract's files (ids kept).

    With `items_meta_path` (from `join_mmrec_meta`) the items get the metadata's text, and with
    `manifest_path` the fetched images; without, they have neither (only `provided` features apply).
    """
    folder = Path(folder)
    interactions = read_mmrec_inter(folder / inter_file)
    item_mapping = read_mmrec_mapping(folder / options.item_mapping_file, "itemID")
    user_mapping = read_mmrec_mapping(folder / "u_id_mapping.csv", "userID")
    n_users = int(interactions["user_id"].max()) + 1
    n_items = int(interactions["item_id"].max()) + 1
    if item_mapping is not None:
        n_items = max(n_items, int(item_mapping["dense"].max()) + 1)
    asins = np.array([str(i) for i in range(n_items)], dtype=object)
    if item_mapping is not None:
        asins[item_mapping["dense"].to_numpy()] = item_mapping["original"].to_numpy()
    user_ids = np.array([str(u) for u in range(n_users)], dtype=object)
    if user_mapping is not None:
        valid = user_mapping["dense"] < n_users
        user_ids[user_mapping.loc[valid, "dense"].to_numpy()] = user_mapping.loc[valid, "original"].to_numpy()
    if items_meta_path is not None:
        meta = pd.read_parquet(items_meta_path).drop(columns="item_id", errors="ignore")
    else:
        empty = {"title": None, "brand": "", "description": "", "categories": None, "has_meta": False}
        meta = pd.DataFrame({"asin": asins, **empty})
    manifest = pd.read_parquet(manifest_path) if manifest_path else None
    image_dir = Path(manifest_path).parent if manifest_path else None
    items = _items_frame(asins, meta, manifest, image_dir, options)
    stats = _stats(interactions, n_users, n_items, "mmrec")
    stats.update(
        missing_images=int((items["image_status"] != img.OK).sum()),
        # The split is the release's: an item without an image is never dropped, always mean-filled.
        missing_policy="mean",
        split_method="provided",
        items_without_meta=n_items - int(pd.Index(asins).isin(meta.loc[meta["has_meta"], "asin"]).sum()),
    )
    stats["expected_stats_match"] = compare_expected(stats, options.expected_stats, dataset)
    user_map = pd.DataFrame({"original_id": user_ids, "user_id": np.arange(n_users, dtype=np.int64)})
    item_map = pd.DataFrame({"asin": asins, "item_id": np.arange(n_items, dtype=np.int64)})
    _write_outputs(outputs, interactions, items, stats, user_map, item_map)
    return stats


def copy_provided_feature(src: str | Path, dest: str | Path) -> None:
    """Copy MMRec's `image_feat.npy`/`text_feat.npy` into results/{dataset}/raw/ (checked to load)."""
    src = Path(src)
    if not src.is_file():
        raise FileNotFoundError(f"mmrec source: {src} not found")
    array = np.load(src, mmap_mode="r")
    if array.ndim != 2:
        raise ValueError(f"{src}: expected a 2-d [n_items, d] array, got shape {array.shape}")
    with atomic_path(dest, suffix=".npy") as tmp:
        shutil.copyfile(src, tmp)
