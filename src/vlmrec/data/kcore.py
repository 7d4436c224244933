"""Iterative k-core filtering of an interaction table, as MMRec's `0rating2inter` does it.

Each round computes the users and the items with fewer than `k` interactions among the rows
still kept and drops every row whose user *or* item is banned (both sets at once); rounds repeat
until no user and no item falls below `k`. Counting is vectorised (integer codes + `np.bincount`)
so the 3.3M-row Sports file filters in about a second.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KCoreResult:
    """Boolean row mask of the k-core and the number of rounds that removed something."""

    mask: np.ndarray
    rounds: int


def kcore_mask(user_codes: np.ndarray, item_codes: np.ndarray, k: int) -> KCoreResult:
    """Rows of the k-core of the bipartite graph given by integer codes (>= 0).

    The result is the unique maximal sub-table in which every remaining user and item has at
    least `k` rows (each row counts once, duplicates included, as in MMRec).
    """
    if k < 1:
        raise ValueError(f"preprocess.k_core must be >= 1, got {k}")
    users = np.asarray(user_codes)
    items = np.asarray(item_codes)
    if users.size and (users.min() < 0 or items.min() < 0):
        raise ValueError("k-core: codes must be >= 0 (drop missing ids first)")
    if users.shape != items.shape:
        raise ValueError("user and item code arrays differ in length")
    if len(users) == 0:
        return KCoreResult(np.ones(0, dtype=bool), 0)
    n_users = int(users.max()) + 1
    n_items = int(items.max()) + 1
    # Work on the shrinking set of surviving rows (most rows go in the first rounds).
    rows = np.arange(len(users))
    rounds = 0
    while True:
        user_counts = np.bincount(users, minlength=n_users)
        item_counts = np.bincount(items, minlength=n_items)
        banned_users = (user_counts > 0) & (user_counts < k)
        banned_items = (item_counts > 0) & (item_counts < k)
        if not banned_users.any() and not banned_items.any():
            break
        keep = ~(banned_users[users] | banned_items[items])
        users, items, rows = users[keep], items[keep], rows[keep]
        rounds += 1
        log.info(
            "k-core round %d: banned %d users, %d items; %d rows left",
            rounds,
            int(banned_users.sum()),
            int(banned_items.sum()),
            len(rows),
        )
    mask = np.zeros(len(user_codes), dtype=bool)
    mask[rows] = True
    return KCoreResult(mask, rounds)


def kcore_filter(frame: pd.DataFrame, k: int, user: str = "user", item: str = "item") -> pd.DataFrame:
    """The k-core rows of `frame` in their original order (index reset)."""
    user_codes = pd.factorize(frame[user], use_na_sentinel=True)[0]
    item_codes = pd.factorize(frame[item], use_na_sentinel=True)[0]
    result = kcore_mask(user_codes, item_codes, k)
    return frame.loc[result.mask].reset_index(drop=True)
