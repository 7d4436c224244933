"""The MMRec protocol details of issue 10 item 5: 4-decimal rounding before early stopping, best epoch
and grid winner; NaN-only stopping; the zero-grad mode; the L2 divisor following training.batch_size;
a model without training (ItemKNNCBF)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from vlmrec.models import registry
from vlmrec.models.base import Recommender
from vlmrec.training.data import from_frame
from vlmrec.training.grid import choose_winner
from vlmrec.training.trainer import TrainSettings, round_metric, train_run


def toy_data():  # noqa: ANN201
    rng = np.random.default_rng(0)
    rows = [(u, int(i), "train") for u in range(30) for i in rng.choice(20, 5, replace=False)]
    rows += [(u, u % 20, "valid") for u in range(30)] + [(u, (u + 3) % 20, "test") for u in range(30)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "split"]).drop_duplicates(
        ["user_id", "item_id"]
    )
    return from_frame(frame)


def point(valid: float) -> dict[str, Any]:
    run = {"seed": 0, "valid": {"recall@20": valid}, "test": {"recall@20": 0.0}, "status": "ok"}
    return {"point": {}, "runs": [run]}


def test_grid_winner_ties_at_four_decimals_go_to_the_earlier_point() -> None:
    points = [point(0.123401), point(0.123449), point(0.12346)]
    assert choose_winner(points, "valid", "recall@20") == 2  # 0.1235 beats 0.1234 (= 0.1234)
    points = [point(0.123401), point(0.123449)]
    assert choose_winner(points, "valid", "recall@20") == 0  # equal at 4 decimals: MMRec keeps the first
    points[0]["metric_decimals"] = None  # trained with full-precision comparisons
    assert choose_winner(points, "valid", "recall@20") == 1
    assert choose_winner([point(0.123401), point(0.123449)], "valid", "recall@20", decimals=6) == 1
    assert round_metric(-math.inf, 4) == -math.inf


class _Scripted(Recommender):
    """Scores fixed per epoch so validation metrics are known; loss scripted per epoch."""

    defaults: ClassVar[dict[str, Any]] = {"learning_rate": 0.01, "bad_epoch": -1, "bad": "nan"}
    uses_features: ClassVar[bool] = False

    def __init__(self, data, features, params, device) -> None:  # noqa: ANN001
        super().__init__(data, features, params, device)
        self.weight = nn.Parameter(torch.ones(1))
        self.epoch = 0

    def pre_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def loss(self, users, pos, neg, batch_index):  # noqa: ANN001
        loss = (self.weight**2).sum()
        if self.epoch == self.params["bad_epoch"]:
            # NaN poisons everything; +inf (a constant) leaves the gradient finite
            return loss * math.nan if self.params["bad"] == "nan" else loss + math.inf
        return loss

    def score_users(self, users):  # noqa: ANN001
        # ranks item (user % 20) first from epoch 1 on: valid recall jumps once
        scores = torch.zeros(len(users), self.n_items)
        if self.epoch >= 1:
            scores[torch.arange(len(users)), users % 20] = 1.0
        return scores


@pytest.fixture
def scripted(monkeypatch):  # noqa: ANN001, ANN201
    registry.get_model_class("lightgcn")
    monkeypatch.setitem(registry._MODELS, "_scripted", _Scripted)
    return "_scripted"


def test_nan_stops_but_inf_trains_on_unless_asked(scripted) -> None:  # noqa: ANN001
    base = {"epochs": 4, "patience": 5, "topk": (5, 10, 20), "device": "cpu"}
    nan = train_run(scripted, {"bad_epoch": 1, "bad": "nan"}, toy_data(), None, TrainSettings(**base), 1)
    assert nan.status == "nan_loss" and nan.epochs_run == 2
    inf = train_run(scripted, {"bad_epoch": 1, "bad": "inf"}, toy_data(), None, TrainSettings(**base), 1)
    assert inf.status == "ok" and inf.epochs_run == 4  # MMRec: only NaN stops
    assert math.isinf(inf.curve[1]["loss"])
    stop = TrainSettings(**base, stop_on_inf=True)
    inf_stop = train_run(scripted, {"bad_epoch": 1, "bad": "inf"}, toy_data(), None, stop, 1)
    assert inf_stop.status == "nan_loss" and inf_stop.epochs_run == 2


def test_early_stopping_compares_rounded_metrics(monkeypatch, scripted) -> None:  # noqa: ANN001
    from vlmrec.training import trainer

    values = iter([0.1, 0.12341, 0.12344, 0.12349, 0.1235])  # valid recall@20 per epoch
    real_update = trainer.EarlyStopping.update
    seen: list[float] = []

    def update(self, value, epoch):  # noqa: ANN001, ANN202
        seen.append(value)
        return real_update(self, value, epoch)

    monkeypatch.setattr(trainer.EarlyStopping, "update", update)
    real_round = trainer.round_metric
    monkeypatch.setattr(trainer, "round_metric", lambda v, d: real_round(next(values), d))
    settings = TrainSettings(epochs=5, patience=10, topk=(5, 10, 20), device="cpu")
    result = train_run(scripted, {}, toy_data(), None, settings, 1)
    assert seen == [0.1, 0.1234, 0.1234, 0.1235, 0.1235]
    assert result.best_epoch == 3  # 0.12344 does not beat 0.12341 at 4 decimals; later ties lose


def test_zero_grad_mode_none_drops_momentum_steps() -> None:
    """LATTICE's projections get a gradient on an epoch's first batch only: with zeros (torch 1.11)
    Adam keeps moving them on momentum, with none (torch >= 2) they stay put after batch 0."""
    rng = np.random.default_rng(3)
    feats = {
        "image": rng.normal(size=(20, 8)).astype(np.float32),
        "text": rng.normal(size=(20, 6)).astype(np.float32),
    }
    finals = {}
    for mode in ("zeros", "none"):
        settings = TrainSettings(
            epochs=1, patience=5, batch_size=40, topk=(5, 10, 20), device="cpu", zero_grad=mode
        )
        finals[mode] = train_run("lattice", {}, toy_data(), feats, settings, 2).best_state["image_trs.weight"]
    assert not torch.equal(finals["zeros"], finals["none"])
    with pytest.raises(ValueError, match="zero_grad"):
        TrainSettings(zero_grad="sometimes")


def test_l2_divisor_follows_training_batch_size(monkeypatch) -> None:
    seen = []
    real_init = registry.get_model_class("lattice").__init__

    def init(self, data, features, params, device):  # noqa: ANN001, ANN202
        real_init(self, data, features, params, device)
        seen.append(self.params["batch_size"])

    monkeypatch.setattr(registry.get_model_class("lattice"), "__init__", init)
    rng = np.random.default_rng(3)
    feats = {"fused": rng.normal(size=(20, 8)).astype(np.float32)}
    settings = TrainSettings(epochs=1, patience=5, batch_size=40, topk=(5, 10, 20), device="cpu")
    train_run("lattice", {}, toy_data(), feats, settings, 2)
    train_run("lattice", {"batch_size": 2048}, toy_data(), feats, settings, 2)
    assert seen == [40, 2048]


def test_model_without_training_is_evaluated_once() -> None:
    rng = np.random.default_rng(3)
    feats = {"fused": rng.normal(size=(20, 8)).astype(np.float32)}
    settings = TrainSettings(epochs=50, patience=5, topk=(5, 10, 20), device="cpu")
    result = train_run("itemknncbf", {}, toy_data(), feats, settings, 2)
    assert result.status == "ok" and result.best_epoch == 0 and result.epochs_run == 1
    assert len(result.curve) == 1 and result.curve[0]["loss"] == 0.0
    assert result.valid and result.test and result.test_per_user is not None
