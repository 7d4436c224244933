"""The one metrics module: full-ranking top-k metrics with MMRec's exact definitions.

Definitions (``MMRec utils/metrics.py``), for a user with ``pos_len`` positives in the split and
``hit_j`` = 1 when the item at rank j is one of them:

- Recall@k    = sum_{j<=k} hit_j / pos_len
- Precision@k = sum_{j<=k} hit_j / k
- NDCG@k      = sum_{j<=k} hit_j / log2(j+1)  /  sum_{r<=min(pos_len,k)} 1 / log2(r+1)
- MAP@k       = sum_{j<=k} Precision@j * hit_j / min(pos_len, k)
- Hit@k       = 1 when any hit_j = 1 for j <= k

``pos_len`` counts the user's rows in the split (MMRec's ``pos_len_list``), while a ranked item is
a hit when it is in the user's set of positives. Values are averaged over the users that have at
least one row in the split. MMRec rounds the means to 4 decimals; we keep full precision.

Evaluation ranks **all** ``n_items`` items, masks the user's training items (and optionally the
validation items at test time), and takes ``torch.topk`` once at the largest k. Hits are found
without a Python loop per user: positives are stored as sorted keys ``row * n_items + item`` and
the top-k keys are looked up with one ``searchsorted``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

METRICS: tuple[str, ...] = ("recall", "ndcg", "precision", "map", "hit")


def metric_keys(topk: Sequence[int], metrics: Sequence[str] = METRICS) -> list[str]:
    """Keys in the order used everywhere: ``recall@5, recall@10, ..., hit@50``."""
    return [f"{name}@{k}" for name in metrics for k in sorted(topk)]


def parse_metric_key(key: str) -> tuple[str, int]:
    """``'recall@20'`` -> ``('recall', 20)``; a clear error for anything else."""
    name, sep, k = key.partition("@")
    if not sep or name not in METRICS or not k.isdigit() or int(k) < 1:
        raise ValueError(f"metric key '{key}' is not <metric>@<k> with metric in {METRICS}")
    return name, int(k)


def metrics_from_hits(
    hits: torch.Tensor | np.ndarray, pos_len: torch.Tensor | np.ndarray, topk: Sequence[int]
) -> dict[str, np.ndarray]:
    """Per-user metrics from a hit matrix.

    hits: ``[n_users, K]`` (bool or 0/1), column j = rank j+1, with K >= max(topk).
    pos_len: ``[n_users]`` number of positives (>= 1) of each user.
    Returns ``{"recall@5": float64 [n_users], ...}`` for every metric and k.
    """
    hit = torch.as_tensor(hits).to(torch.float64)
    pos = torch.as_tensor(pos_len).to(torch.float64)
    n_cols = hit.shape[1]
    if max(topk) > n_cols:
        raise ValueError(f"topk {max(topk)} exceeds the {n_cols} ranked columns")
    ranks = torch.arange(1, n_cols + 1, dtype=torch.float64)
    cum_hits = hit.cumsum(dim=1)
    discounts = 1.0 / torch.log2(ranks + 1.0)
    dcg = (hit * discounts).cumsum(dim=1)
    ideal = discounts.cumsum(dim=0)  # ideal[m-1] = IDCG with m positives
    ap_sum = (hit * cum_hits / ranks).cumsum(dim=1)
    out: dict[str, torch.Tensor] = {}
    for k in sorted(topk):
        hits_k = cum_hits[:, k - 1]
        capped = torch.clamp(pos, max=float(k))
        out[f"recall@{k}"] = hits_k / pos
        out[f"ndcg@{k}"] = dcg[:, k - 1] / ideal[capped.long() - 1]
        out[f"precision@{k}"] = hits_k / k
        out[f"map@{k}"] = ap_sum[:, k - 1] / capped
        out[f"hit@{k}"] = (hits_k > 0).to(torch.float64)
    return {key: out[key].numpy() for key in metric_keys(topk)}


class _PairIndex:
    """(row, col) pairs sorted by row, sliceable by a contiguous row range without a loop."""

    def __init__(self, rows: np.ndarray, cols: np.ndarray, n_rows: int) -> None:
        order = np.lexsort((cols, rows))
        self.rows = torch.as_tensor(rows[order], dtype=torch.int64)
        self.cols = torch.as_tensor(cols[order], dtype=torch.int64)
        self.offsets = np.searchsorted(rows[order], np.arange(n_rows + 1), side="left")

    def slice(self, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        lo, hi = int(self.offsets[start]), int(self.offsets[stop])
        return self.rows[lo:hi] - start, self.cols[lo:hi]


@dataclass
class SplitResult:
    """Per-user metric vectors of one split; ``mean()`` gives the reported values."""

    users: np.ndarray
    per_user: dict[str, np.ndarray] = field(default_factory=dict)
    # int64 [n_users, max k]: each user's ranked top items (row = users[row]); the slices need them.
    top_items: np.ndarray | None = None

    def mean(self) -> dict[str, float]:
        return {key: float(values.mean()) if len(values) else 0.0 for key, values in self.per_user.items()}


class _SplitTargets:
    """One split's users, positives (as sorted keys) and pos_len, located inside the union of users."""

    def __init__(self, union: np.ndarray, users: np.ndarray, items: np.ndarray, n_items: int) -> None:
        self.users, pos_len = np.unique(users, return_counts=True)
        self.pos_len = torch.as_tensor(pos_len, dtype=torch.int64)
        self.union_rows = np.searchsorted(union, self.users)
        local = np.searchsorted(self.users, users)
        keys = np.unique(local.astype(np.int64) * n_items + items.astype(np.int64))
        self.keys = torch.as_tensor(keys)
        self.key_offsets = np.searchsorted(keys, np.arange(len(self.users) + 1) * np.int64(n_items))

    def rows_in(self, start: int, stop: int) -> tuple[int, int]:
        """Range of this split's rows whose union row lies in [start, stop)."""
        return int(np.searchsorted(self.union_rows, start)), int(np.searchsorted(self.union_rows, stop))


class RankingEvaluator:
    """Full-ranking evaluation of several splits, sharing one score computation per user batch.

    ``targets`` maps a split name (``valid``, ``test``) to its (users, items) rows. Training items
    are masked for every split; with ``mask_valid_at_test`` the ``valid`` items are also masked
    when ranking for ``test`` (MMRec does not do this).
    """

    def __init__(
        self,
        n_items: int,
        train: tuple[np.ndarray, np.ndarray],
        targets: Mapping[str, tuple[np.ndarray, np.ndarray]],
        topk: Sequence[int] = (5, 10, 20, 50),
        batch_size: int = 4096,
        mask_valid_at_test: bool = False,
        device: torch.device | str = "cpu",
        excluded_items: np.ndarray | None = None,
    ) -> None:
        if max(topk) > n_items:
            raise ValueError(f"training.topk: k={max(topk)} exceeds the {n_items} items")
        self.n_items = n_items
        self.topk = sorted(topk)
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.union = np.unique(np.concatenate([np.asarray(u) for u, _ in targets.values()]))
        self.splits = {
            name: _SplitTargets(self.union, np.asarray(u), np.asarray(i), n_items)
            for name, (u, i) in targets.items()
        }
        self.train_mask = self._pairs_in_union(*train)
        # Items never ranked for anyone (the cold-start protocol ranks the cold items alone).
        self.excluded_items = None
        if excluded_items is not None and np.asarray(excluded_items).any():
            self.excluded_items = torch.as_tensor(np.flatnonzero(excluded_items), device=self.device)
        self.test_extra_mask = None
        if mask_valid_at_test and "valid" in targets and "test" in targets:
            self.test_extra_mask = self._pairs_in_union(*targets["valid"])

    def _pairs_in_union(self, users: np.ndarray, items: np.ndarray) -> _PairIndex:
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        pos = np.searchsorted(self.union, users)
        inside = (pos < len(self.union)) & (self.union[np.minimum(pos, len(self.union) - 1)] == users)
        return _PairIndex(pos[inside], items[inside], len(self.union))

    @torch.no_grad()
    def evaluate(self, score_fn: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, SplitResult]:
        """Rank all items for every evaluated user with ``score_fn(user_ids) -> [n, n_items]``."""
        hits: dict[str, list[torch.Tensor]] = {name: [] for name in self.splits}
        tops: dict[str, list[torch.Tensor]] = {name: [] for name in self.splits}
        k_max = self.topk[-1]
        for start in range(0, len(self.union), self.batch_size):
            stop = min(start + self.batch_size, len(self.union))
            users = torch.as_tensor(self.union[start:stop], device=self.device)
            scores = score_fn(users).to(torch.float32)
            rows, cols = self.train_mask.slice(start, stop)
            scores[rows.to(self.device), cols.to(self.device)] = float("-inf")
            if self.excluded_items is not None:
                scores[:, self.excluded_items] = float("-inf")
            top = torch.topk(scores, k_max, dim=1).indices.cpu()
            for name, split in self.splits.items():
                lo, hi = split.rows_in(start, stop)
                local = torch.as_tensor(split.union_rows[lo:hi] - start)
                if name == "test" and self.test_extra_mask is not None:
                    top_split = self._topk_with_extra_mask(scores, start, stop, local)
                else:
                    top_split = top[local]
                hits[name].append(self._hits(split, lo, hi, top_split))
                tops[name].append(top_split)
        results = {}
        for name, split in self.splits.items():
            hit_matrix = torch.cat(hits[name]) if hits[name] else torch.zeros(0, k_max, dtype=torch.bool)
            per_user = metrics_from_hits(hit_matrix, split.pos_len, self.topk)
            top_items = torch.cat(tops[name]).numpy() if tops[name] else np.zeros((0, k_max), np.int64)
            results[name] = SplitResult(users=split.users, per_user=per_user, top_items=top_items)
        return results

    def _topk_with_extra_mask(
        self, scores: torch.Tensor, start: int, stop: int, local: torch.Tensor
    ) -> torch.Tensor:
        masked = scores.clone()
        rows, cols = self.test_extra_mask.slice(start, stop)
        masked[rows.to(self.device), cols.to(self.device)] = float("-inf")
        return torch.topk(masked[local.to(self.device)], self.topk[-1], dim=1).indices.cpu()

    def _hits(self, split: _SplitTargets, lo: int, hi: int, top: torch.Tensor) -> torch.Tensor:
        """Which of the top-k items of split rows lo..hi are positives (one searchsorted)."""
        keys = split.keys[int(split.key_offsets[lo]) : int(split.key_offsets[hi])]
        rows = torch.arange(lo, hi, dtype=torch.int64).unsqueeze(1)
        query = rows * self.n_items + top
        if len(keys) == 0:
            return torch.zeros_like(query, dtype=torch.bool)
        pos = torch.searchsorted(keys, query).clamp(max=len(keys) - 1)
        return keys[pos] == query
