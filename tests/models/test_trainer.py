"""Trainer: data loading rules, early stopping, NaN handling, determinism, lr schedule."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import torch
from model_fixtures import small_baby
from torch import nn

from vlmrec.models import registry
from vlmrec.models.base import Recommender
from vlmrec.training.data import from_frame, load_interactions
from vlmrec.training.sampler import NegativeSampler
from vlmrec.training.trainer import EarlyStopping, TrainSettings, _train_epoch, make_adam, train_run


def _frame(rows: list[tuple[int, int, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "item_id", "split"])


def test_mmrec_loading_rules(tmp_path) -> None:
    rows = [(0, 1, "train"), (0, 2, "train"), (1, 1, "train"), (0, 3, "valid"), (1, 5, "test")]
    rows += [(4, 2, "valid"), (4, 6, "test")]  # user 4 has no train rows: dropped from valid/test
    data = from_frame(_frame(rows))
    assert (data.n_users, data.n_items) == (5, 7)  # max id + 1, over the whole file
    assert data.valid_users.tolist() == [0] and data.test_users.tolist() == [1]
    assert data.all_items.tolist() == [1, 2]  # items seen in train
    # The MMRec .inter format reads the same.
    path = tmp_path / "x.inter"
    labels = {"train": 0, "valid": 1, "test": 2}
    lines = ["userID\titemID\trating\ttimestamp\tx_label"]
    lines += [f"{u}\t{i}\t5.0\t0\t{labels[s]}" for u, i, s in rows]
    path.write_text("\n".join(lines) + "\n")
    again = load_interactions(path)
    assert (again.n_users, again.n_items) == (5, 7)
    assert again.valid_items.tolist() == data.valid_items.tolist()


def test_bad_inter_label_names_the_line(tmp_path) -> None:
    path = tmp_path / "bad.inter"
    path.write_text("userID\titemID\trating\ttimestamp\tx_label\n0\t1\t5\t0\t0\n0\t2\t5\t0\t7\n")
    with pytest.raises(ValueError, match=r"bad.inter:3: x_label"):
        load_interactions(path)
    with pytest.raises(FileNotFoundError, match="nowhere.parquet"):
        load_interactions(tmp_path / "nowhere.parquet")


def test_early_stopping_is_mmrecs_rule() -> None:
    # Best at epoch 69 with patience 20: MMRec stops at epoch 90 (the 21st non-improving one).
    stopper = EarlyStopping(patience=20)
    values = [i / 100 for i in range(70)] + [0.69] * 100  # equal is not an improvement
    stopped_at = None
    for epoch, value in enumerate(values):
        stopper.update(value, epoch)
        if stopper.should_stop:
            stopped_at = epoch
            break
    assert stopper.best_epoch == 69
    assert stopped_at == 90


def test_two_cpu_runs_are_bit_identical(baby_inter_path) -> None:
    data = small_baby(baby_inter_path, 600)
    settings = TrainSettings(epochs=3, patience=5, device="cpu")
    a = train_run("lightgcn", {"reg_weight": 1e-4}, data, None, settings, seed=5)
    b = train_run("lightgcn", {"reg_weight": 1e-4}, data, None, settings, seed=5)
    c = train_run("lightgcn", {"reg_weight": 1e-4}, data, None, settings, seed=6)
    assert a.curve and [r["loss"] for r in a.curve] == [r["loss"] for r in b.curve]
    assert a.valid == b.valid and a.test == b.test
    for key, value in a.best_state.items():
        assert torch.equal(value, b.best_state[key]), key
    assert [r["loss"] for r in a.curve] != [r["loss"] for r in c.curve]


class _NanAfterTwoEpochs(Recommender):
    """A tiny MF model whose loss turns NaN from epoch 2 on."""

    defaults: ClassVar[dict[str, Any]] = {"learning_rate": 0.01}
    uses_features: ClassVar[bool] = False

    def __init__(self, data, features, params, device) -> None:  # noqa: ANN001
        super().__init__(data, features, params, device)
        self.user = nn.Parameter(torch.randn(self.n_users, 8) * 0.1)
        self.item = nn.Parameter(torch.randn(self.n_items, 8) * 0.1)
        self.epoch = 0

    def pre_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def loss(self, users, pos, neg, batch_index):  # noqa: ANN001
        diff = (self.user[users] * (self.item[pos] - self.item[neg])).sum(1)
        loss = -torch.nn.functional.logsigmoid(diff).mean()
        return loss * float("nan") if self.epoch >= 2 else loss

    def score_users(self, users):  # noqa: ANN001
        return self.user[users] @ self.item.T

    def lr_lambda(self, epoch: int) -> float:
        return 0.5**epoch


def _toy_data():
    rng = np.random.default_rng(0)
    rows = [(u, int(i), "train") for u in range(30) for i in rng.choice(20, 5, replace=False)]
    rows += [(u, u % 20, "valid") for u in range(30)] + [(u, (u + 3) % 20, "test") for u in range(30)]
    return from_frame(_frame(rows).drop_duplicates(["user_id", "item_id"]))


def test_nan_loss_stops_with_status_and_keeps_best(monkeypatch) -> None:
    registry.get_model_class("lightgcn")  # load the real models first
    monkeypatch.setitem(registry._MODELS, "_test_nan_after_two", _NanAfterTwoEpochs)  # unregistered after
    settings = TrainSettings(epochs=10, patience=5, topk=(5, 10), valid_metric="recall@10", device="cpu")
    result = train_run("_test_nan_after_two", {}, _toy_data(), None, settings, seed=1)
    assert result.status == "nan_loss"
    assert result.epochs_run == 3 and len(result.curve) == 2
    assert result.best_epoch in (0, 1) and result.valid and result.test
    # lr_lambda is applied per epoch: epoch 1 ran at half the base rate
    assert [row["lr"] for row in result.curve] == pytest.approx([0.01, 0.005])


def _toy_features(seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "image": rng.normal(size=(20, 8)).astype(np.float32),
        "text": rng.normal(size=(20, 6)).astype(np.float32),
    }


def _snapshots_per_batch(monkeypatch, model_name: str, params: dict, watched: str) -> list[torch.Tensor]:
    """One epoch through the real trainer loop; ``watched`` parameter's value before each batch."""
    data = _toy_data()
    features = {k: torch.as_tensor(v) for k, v in _toy_features().items()}
    torch.manual_seed(0)
    model = registry.build(model_name, data.interaction_data(), features, params, torch.device("cpu"))
    optimizer = make_adam(model.parameters(), 1e-2)
    param = dict(model.named_parameters())[watched]
    snapshots: list[torch.Tensor] = []
    loss = model.loss

    def recording_loss(*args):  # noqa: ANN002, ANN202
        snapshots.append(param.detach().clone())
        return loss(*args)

    monkeypatch.setattr(model, "loss", recording_loss)
    _train_epoch(model, optimizer, NegativeSampler(data, batch_size=40, seed=0), 0)
    snapshots.append(param.detach().clone())
    return snapshots


def test_lattice_projections_move_on_momentum_after_first_batch(monkeypatch) -> None:
    """MMRec (torch 1.11) zero_grad leaves zero tensors: Adam keeps stepping params whose gradient
    only exists on an epoch's first batch (LATTICE's learned-graph branch)."""
    for name in ("image_trs.weight", "text_embedding.weight", "modal_weight"):
        snaps = _snapshots_per_batch(monkeypatch, "lattice", {}, name)
        assert len(snaps) >= 4  # >= 3 batches
        assert not torch.equal(snaps[0], snaps[1])  # real gradient on batch 0
        for before, after in zip(snaps[1:-1], snaps[2:]):
            assert not torch.equal(before, after), name  # zero gradient, non-zero momentum


def test_parameters_without_gradient_are_never_stepped(monkeypatch) -> None:
    """FREEDOM at reg_weight 0: the modality branch has grad None (not zeros), so Adam leaves it alone."""
    snaps = _snapshots_per_batch(monkeypatch, "freedom", {"reg_weight": 0.0}, "text_trs.weight")
    assert len(snaps) >= 4 and all(torch.equal(snaps[0], s) for s in snaps)
    moving = _snapshots_per_batch(monkeypatch, "freedom", {"reg_weight": 0.0}, "item_id_embedding.weight")
    assert not torch.equal(moving[0], moving[-1])


@pytest.mark.parametrize(
    ("model_name", "params"),
    [("freedom", {"reg_weight": 1e-4}), ("freedom", {"reg_weight": 0.0}), ("lightgcn", {})],
)
def test_zero_grad_to_zeros_changes_nothing_outside_lattice(
    monkeypatch, model_name: str, params: dict
) -> None:
    """Every parameter of these models gets a gradient every batch or never: set_to_none is moot."""
    zero_grad = torch.optim.Optimizer.zero_grad
    settings = TrainSettings(
        epochs=2, patience=5, batch_size=40, topk=(5, 10), valid_metric="recall@10", device="cpu"
    )
    features = None if model_name == "lightgcn" else _toy_features()
    runs = []
    for set_to_none in (True, False):  # forced, whatever the trainer passes
        monkeypatch.setattr(
            torch.optim.Optimizer,
            "zero_grad",
            lambda self, *_, _force=set_to_none, _z=zero_grad, **__: _z(self, set_to_none=_force),
        )
        runs.append(train_run(model_name, params, _toy_data(), features, settings, seed=5))
    a, b = runs
    assert [r["loss"] for r in a.curve] == [r["loss"] for r in b.curve]
    for key, value in a.best_state.items():
        assert torch.equal(value, b.best_state[key]), key


def test_adam_is_fused_when_supported_else_default() -> None:
    cpu = [nn.Parameter(torch.randn(3, 2)), nn.Parameter(torch.randn(2))]
    assert make_adam(cpu, 1e-3).defaults["fused"] is True
    complex_param = [nn.Parameter(torch.randn(3, dtype=torch.complex64))]
    optimizer = make_adam(complex_param, 1e-3)  # fused kernels take real floating tensors only
    assert not optimizer.defaults["fused"]
    complex_param[0].grad = torch.ones_like(complex_param[0])
    optimizer.step()  # the fallback works


def test_lattice_cpu_runs_are_bit_identical() -> None:
    """Fused Adam + zero_grad(set_to_none=False) stay deterministic (LATTICE exercises both)."""
    settings = TrainSettings(
        epochs=2, patience=5, batch_size=40, topk=(5, 10), valid_metric="recall@10", device="cpu"
    )
    a, b = (train_run("lattice", {}, _toy_data(), _toy_features(), settings, seed=5) for _ in range(2))
    assert [r["loss"] for r in a.curve] == [r["loss"] for r in b.curve]
    for key, value in a.best_state.items():
        assert torch.equal(value, b.best_state[key]), key


def test_valid_metric_must_be_in_topk() -> None:
    with pytest.raises(ValueError, match="training.valid_metric"):
        TrainSettings(valid_metric="recall@30")
    settings = TrainSettings.from_mapping({"topk": [20, 5], "seeds": [1], "select_on": "test"})
    assert settings.topk == (5, 20)


def test_feature_set_contract_is_checked(tmp_path) -> None:
    from vlmrec.training.data import load_features
    from vlmrec.utils.io import write_json

    np.save(tmp_path / "text.npy", np.ones((4, 3), dtype=np.float32))
    write_json(tmp_path / "manifest.json", {"modalities": {"text": {"file": "text.npy", "dim": 3}}})
    assert load_features(tmp_path, n_items=4)["text"].shape == (4, 3)
    with pytest.raises(ValueError, match=r"modality 'text' has shape \(4, 3\), expected \[5, d\]"):
        load_features(tmp_path, n_items=5)
    np.save(tmp_path / "text.npy", np.full((4, 3), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="non-finite"):
        load_features(tmp_path, n_items=4)
