"""Evaluation slices: test Recall/NDCG@k by item popularity and by user activity in training.

An average over all test interactions is dominated by popular items; multimodal content is meant
to help most on the long tail. The slices split the winner's test evaluation (the same full ranking,
nothing re-ranked) two ways:

- **Item popularity** (``head`` / ``torso`` / ``tail``): items are ranked by their number of distinct
  training users (ties by item id) and cut at cumulative shares of the catalogue (``edges``, default
  0.2 and 0.6: the 20 % most popular items are the head, the next 40 % the torso, the rest the tail).
  For a user u with test positives T_u and a bucket B, with the user's full top-k list:

  - ``recall@k``  = |top-k(u) ∩ T_u ∩ B| / |T_u ∩ B|, averaged over the users with |T_u ∩ B| > 0
    ("of the user's test items in B, how many were found");
  - ``ndcg@k``    = the DCG of those hits / the ideal DCG of min(|T_u ∩ B|, k) hits, same users;
  - ``recall_contrib@k`` = |top-k(u) ∩ T_u ∩ B| / |T_u|, averaged over **all** test users: the
    bucket's share of the overall Recall@k, so the buckets' contributions sum to it exactly.

  |T_u ∩ B| counts the user's test rows (MMRec's ``pos_len``), like the overall metrics.
- **User activity** (``heavy`` / ``medium`` / ``light``): users ranked by their number of distinct
  training items, cut the same way; a bucket's value is the mean of its users' per-user metrics, so
  the user-count-weighted mean of the buckets is the overall metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # metrics imports torch; the report env's slices table has none
    from vlmrec.evaluation.metrics import SplitResult

SLICE_METRICS = ("recall", "ndcg")
DEFAULT_SLICES: dict[str, dict[str, list[Any]]] = {
    "item_popularity": {"edges": [0.2, 0.6], "names": ["head", "torso", "tail"]},
    "user_activity": {"edges": [0.2, 0.6], "names": ["heavy", "medium", "light"]},
}


def slice_config(config: Mapping[str, Any] | None) -> dict[str, dict[str, list[Any]]]:
    """The ``training.slices`` section with defaults, checked (edges increasing in (0, 1))."""
    merged = {name: dict(default) for name, default in DEFAULT_SLICES.items()}
    for name, section in (config or {}).items():
        if name not in merged:
            raise ValueError(f"training.slices.{name}: unknown slicing (known: {sorted(merged)})")
        merged[name].update(section or {})
    for name, section in merged.items():
        edges, names = [float(e) for e in section["edges"]], [str(n) for n in section["names"]]
        if any(not 0 < e < 1 for e in edges) or any(b <= a for a, b in zip(edges, edges[1:])):
            raise ValueError(
                f"training.slices.{name}.edges: must increase strictly within (0, 1), got {edges}"
            )
        if len(names) != len(edges) + 1:
            raise ValueError(
                f"training.slices.{name}.names: needs {len(edges) + 1} names "
                f"for {len(edges)} edges, got {names}"
            )
        merged[name] = {"edges": edges, "names": names}
    return merged


def share_buckets(counts: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Bucket index per entity: rank by count (descending, ties by id), cut at cumulative shares."""
    counts = np.asarray(counts)
    n = len(counts)
    order = np.lexsort((np.arange(n), -counts))
    rank_share = np.empty(n)
    rank_share[order] = np.arange(n) / max(n, 1)
    return np.searchsorted(np.asarray(edges, dtype=np.float64), rank_share, side="right")


def distinct_counts(ids: np.ndarray, other: np.ndarray, n: int) -> np.ndarray:
    """Per id in 0..n-1: how many distinct ``other`` values it occurs with."""
    pairs = np.unique(np.stack([np.asarray(ids, np.int64), np.asarray(other, np.int64)], axis=1), axis=0)
    return np.bincount(pairs[:, 0], minlength=n)


def item_slices(
    result: SplitResult,
    test_users: np.ndarray,
    test_items: np.ndarray,
    item_bucket: np.ndarray,
    names: Sequence[str],
    topk: Sequence[int],
) -> dict[str, dict[str, float]]:
    """Per item-popularity bucket: recall@k, ndcg@k, recall_contrib@k and counts (module docstring)."""
    if result.top_items is None:
        raise ValueError("item slices need the evaluation's top-k items (SplitResult.top_items)")
    users = result.users
    n_rows, n_buckets = len(users), len(names)
    rows = np.searchsorted(users, np.asarray(test_users))
    n_items = len(item_bucket)
    keys = np.unique(rows.astype(np.int64) * n_items + np.asarray(test_items, dtype=np.int64))
    pos_len_b = np.zeros((n_rows, n_buckets))
    np.add.at(pos_len_b, (rows, item_bucket[test_items]), 1.0)
    pos_len = pos_len_b.sum(axis=1)
    top = np.asarray(result.top_items, dtype=np.int64)
    query = np.arange(n_rows, dtype=np.int64)[:, None] * n_items + top
    hit = np.isin(query, keys)
    top_bucket = item_bucket[top]
    discounts = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])
    out: dict[str, dict[str, float]] = {}
    for b, name in enumerate(names):
        hit_b = hit & (top_bucket == b)
        has = pos_len_b[:, b] > 0
        entry: dict[str, float] = {
            "n_items": int((item_bucket == b).sum()),
            "n_users": int(has.sum()),
            "n_targets": int(pos_len_b[:, b].sum()),
        }
        for k in sorted(topk):
            hits_k = hit_b[:, :k].sum(axis=1)
            dcg = (hit_b[:, :k] * discounts[:k]).sum(axis=1)
            idcg = ideal[np.minimum(pos_len_b[:, b], k).astype(np.int64)]
            entry[f"recall@{k}"] = float((hits_k[has] / pos_len_b[has, b]).mean()) if has.any() else 0.0
            entry[f"ndcg@{k}"] = float((dcg[has] / idcg[has]).mean()) if has.any() else 0.0
            entry[f"recall_contrib@{k}"] = float((hits_k / pos_len).mean()) if n_rows else 0.0
        out[name] = entry
    return out


def user_slices(
    result: SplitResult, user_bucket: np.ndarray, names: Sequence[str], topk: Sequence[int]
) -> dict[str, dict[str, float]]:
    """Per user-activity bucket: the mean of its users' per-user recall@k / ndcg@k."""
    bucket = user_bucket[result.users]
    out: dict[str, dict[str, float]] = {}
    for b, name in enumerate(names):
        members = bucket == b
        entry: dict[str, float] = {"n_users": int(members.sum())}
        for metric in SLICE_METRICS:
            for k in sorted(topk):
                values = result.per_user[f"{metric}@{k}"][members]
                entry[f"{metric}@{k}"] = float(values.mean()) if len(values) else 0.0
        out[name] = entry
    return out


def compute_slices(
    result: SplitResult,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    n_users: int,
    n_items: int,
    topk: Sequence[int],
    config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Both slicings of one run's test evaluation: the ``slices`` entry of a run / metrics.json."""
    sections = slice_config(config)
    item_counts = distinct_counts(train[1], train[0], n_items)
    user_counts = distinct_counts(train[0], train[1], n_users)
    item_cfg, user_cfg = sections["item_popularity"], sections["user_activity"]
    return {
        "item_popularity": {
            **item_cfg,
            "buckets": item_slices(
                result, *test, share_buckets(item_counts, item_cfg["edges"]), item_cfg["names"], topk
            ),
        },
        "user_activity": {
            **user_cfg,
            "buckets": user_slices(
                result, share_buckets(user_counts, user_cfg["edges"]), user_cfg["names"], topk
            ),
        },
    }


def mean_slices(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The mean over seeds of several runs' ``slices`` (numbers averaged, the rest from the first)."""
    runs = [r for r in runs if r]
    if not runs:
        return {}
    return _mean_tree(runs)


def _mean_tree(values: Sequence[Any]) -> Any:
    first = values[0]
    if isinstance(first, Mapping):
        return {key: _mean_tree([v[key] for v in values]) for key in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        mean = float(np.mean(values))
        return int(mean) if isinstance(first, int) and all(v == first for v in values) else mean
    return first


def slice_rows(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Tidy rows of a cell's ``metrics.json['slices']`` for results/slices.csv."""
    rows = []
    for slicing, section in (metrics.get("slices") or {}).items():
        # In bucket order (``names``): metrics.json stores its keys sorted.
        for bucket in section.get("names") or section["buckets"]:
            entry = section["buckets"][bucket]
            counts = {key: entry[key] for key in ("n_items", "n_users", "n_targets") if key in entry}
            for key, value in entry.items():
                if "@" not in key:
                    continue
                metric, _, k = key.partition("@")
                rows.append(
                    {
                        "dataset": metrics.get("dataset"),
                        "model": metrics.get("model"),
                        "feature": metrics.get("feature"),
                        "slicing": slicing,
                        "bucket": bucket,
                        "metric": metric,
                        "k": int(k),
                        "value": value,
                        **counts,
                    }
                )
    return rows
