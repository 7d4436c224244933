"""Shared test data for tests/models: a seeded toy interaction set, features, batches, Baby subsets.

Imported as a plain module (pytest puts this folder on ``sys.path``), like ``mmrec_reference``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from vlmrec.models import registry
from vlmrec.models.base import InteractionData, Recommender
from vlmrec.training.data import SplitData, from_frame, load_interactions

N_USERS, N_ITEMS = 60, 40
TWO = {"image": 12, "text": 20}  # a two-modality feature set: name -> width


def make_data(seed: int = 0) -> InteractionData:
    """About 500 random unique (user, item) training pairs over N_USERS x N_ITEMS."""
    rng = np.random.default_rng(seed)
    keys = np.unique(rng.integers(0, N_USERS * N_ITEMS, 500))
    return InteractionData(N_USERS, N_ITEMS, keys // N_ITEMS, keys % N_ITEMS)


def make_features(names: dict[str, int], seed: int = 1) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {name: torch.randn(N_ITEMS, dim, generator=gen) for name, dim in names.items()}


def build_model(name: str, features: dict[str, torch.Tensor], seed: int = 999, **params) -> Recommender:
    """The registered model on :func:`make_data`, built on CPU after ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    return registry.build(name, make_data(), features, params, torch.device("cpu"))


def mmrec_init_reference(seed: int, dim: int = 64) -> dict[str, nn.Module]:
    """FREEDOM's and LATTICE's first draws written out as MMRec makes them, for :data:`TWO` features:
    Embedding(U), Embedding(I), xavier_uniform_ on both, then Linear(image), Linear(text)."""
    torch.manual_seed(seed)
    user, item = nn.Embedding(N_USERS, dim), nn.Embedding(N_ITEMS, dim)
    nn.init.xavier_uniform_(user.weight)
    nn.init.xavier_uniform_(item.weight)
    image_trs, text_trs = nn.Linear(TWO["image"], dim), nn.Linear(TWO["text"], dim)
    return {"user": user, "item": item, "image_trs": image_trs, "text_trs": text_trs}


def batch(seed: int, size: int = 32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(users, positives, negatives): training pairs of :func:`make_data` and random items."""
    data = make_data()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, data.train_users.size, size)
    neg = rng.integers(0, N_ITEMS, size)
    return (
        torch.as_tensor(data.train_users[idx]),
        torch.as_tensor(data.train_items[idx]),
        torch.as_tensor(neg),
    )


def one_step_scores(model: Recommender, users: torch.Tensor) -> torch.Tensor:
    """Epoch 0's first batch (``batch(2)``): the loss must be a finite scalar and backpropagate;
    then the evaluation scores of ``users``."""
    model.pre_epoch(0)
    loss = model.loss(*batch(2), 0)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    model.prepare_eval()
    return model.score_users(users)


def small_baby(path: Path, n_users: int) -> SplitData:
    """The real Baby sample restricted to its first users (all items stay candidates)."""
    full = load_interactions(path)
    frames = []
    for split in ("train", "valid", "test"):
        users, items = full.split(split)
        keep = users < n_users
        frames.append(pd.DataFrame({"user_id": users[keep], "item_id": items[keep], "split": split}))
    return from_frame(pd.concat(frames, ignore_index=True))


def train_scores(name: str, seed: int, **params) -> torch.Tensor:
    """Scores of every user after two epochs of three seeded batches (Adam, lr 1e-2) on the two-modality
    features, evaluated after each epoch as the trainer does."""
    model = build_model(name, make_features(TWO), seed=seed, **params)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(2):
        model.pre_epoch(epoch)
        for b in range(3):
            loss = model.loss(*batch(10 * epoch + b), b)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.prepare_eval()
    return model.score_users(torch.arange(N_USERS))
