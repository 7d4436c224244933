"""MMRec's training sampler: shuffled train rows, one uniform negative per positive.

MMRec (``utils/dataloader.py::TrainDataLoader``) shuffles the training rows every epoch, cuts
them into batches of 2048, and for each row draws one item uniformly from ``all_items`` (the
items seen in training), redrawing while the item is in the user's training history. We do the
same for a whole epoch at once: draw every negative in one vectorised call, test membership in
the history with a ``searchsorted`` over sorted ``user * n_items + item`` keys, and redraw only
the rejected rows. The generator is our own, seeded once per run, so an epoch's batches depend
only on (seed, epoch) and not on what else consumed global RNG state.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from vlmrec.training.data import SplitData


class NegativeSampler:
    """Yields ``(users, pos, neg)`` int64 tensors in batches, reshuffled every epoch."""

    def __init__(self, data: SplitData, batch_size: int, seed: int, device: torch.device | str = "cpu"):
        if batch_size < 1:
            raise ValueError("training.batch_size must be >= 1")
        self.users = data.train_users.astype(np.int64)
        self.items = data.train_items.astype(np.int64)
        self.n_items = data.n_items
        self.pool = data.all_items
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.rng = np.random.default_rng(seed)
        self.history_keys = np.unique(self.users * np.int64(self.n_items) + self.items)
        self._check_sampleable()

    def _check_sampleable(self) -> None:
        """A user whose history covers the whole pool has no valid negative: fail now, not hang."""
        history_size = np.bincount(self.history_keys // self.n_items)
        full = np.flatnonzero(history_size >= len(self.pool))
        if len(full):
            raise ValueError(
                f"user {int(full[0])} has interacted with all {len(self.pool)} training items: "
                "no negative item can be sampled"
            )

    def in_history(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = users * np.int64(self.n_items) + items
        pos = np.searchsorted(self.history_keys, keys)
        pos = np.minimum(pos, len(self.history_keys) - 1)
        return self.history_keys[pos] == keys

    def sample_negatives(self, users: np.ndarray) -> np.ndarray:
        """One uniform draw from the pool per user, rejected while in that user's history."""
        neg = self.pool[self.rng.integers(0, len(self.pool), size=len(users))]
        todo = np.flatnonzero(self.in_history(users, neg))
        while len(todo):
            neg[todo] = self.pool[self.rng.integers(0, len(self.pool), size=len(todo))]
            todo = todo[self.in_history(users[todo], neg[todo])]
        return neg

    def epoch(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """One epoch: a fresh permutation of the train rows and fresh negatives."""
        order = self.rng.permutation(len(self.users))
        users, pos = self.users[order], self.items[order]
        neg = self.sample_negatives(users)
        for start in range(0, len(users), self.batch_size):
            stop = start + self.batch_size
            yield (
                torch.from_numpy(users[start:stop]).to(self.device),
                torch.from_numpy(pos[start:stop]).to(self.device),
                torch.from_numpy(neg[start:stop]).to(self.device),
            )

    def __len__(self) -> int:
        return -(-len(self.users) // self.batch_size)
