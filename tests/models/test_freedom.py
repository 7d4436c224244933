"""FREEDOM: init order, graphs, pruning, loss, eval, modality variants, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from vlmrec.models import graphs, registry
from vlmrec.models.base import InteractionData

N_USERS, N_ITEMS = 60, 40


def make_data(seed: int = 0) -> InteractionData:
    rng = np.random.default_rng(seed)
    keys = np.unique(rng.integers(0, N_USERS * N_ITEMS, 500))
    return InteractionData(N_USERS, N_ITEMS, keys // N_ITEMS, keys % N_ITEMS)


def make_features(names: dict[str, int], seed: int = 1) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {name: torch.randn(N_ITEMS, dim, generator=gen) for name, dim in names.items()}


def build(features: dict[str, torch.Tensor], seed: int = 999, **params) -> nn.Module:
    torch.manual_seed(seed)
    return registry.build("freedom", make_data(), features, params, torch.device("cpu"))


def batch(seed: int, size: int = 32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    data = make_data()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, data.train_users.size, size)
    neg = rng.integers(0, N_ITEMS, size)
    return (
        torch.as_tensor(data.train_users[idx]),
        torch.as_tensor(data.train_items[idx]),
        torch.as_tensor(neg),
    )


TWO = {"image": 12, "text": 20}


def test_registered_with_mmrec_defaults() -> None:
    cls = registry.get_model_class("freedom")
    assert cls.defaults["knn_k"] == 10 and cls.defaults["mm_image_weight"] == 0.1
    assert cls.defaults["n_mm_layers"] == 1 and cls.defaults["n_ui_layers"] == 2
    assert cls.defaults["learning_rate"] == 0.001


def test_init_consumes_rng_in_mmrec_order() -> None:
    feats = make_features(TWO)
    model = build(feats, seed=5)
    torch.manual_seed(5)
    user, item = nn.Embedding(N_USERS, 64), nn.Embedding(N_ITEMS, 64)
    nn.init.xavier_uniform_(user.weight)
    nn.init.xavier_uniform_(item.weight)
    image_trs, text_trs = nn.Linear(12, 64), nn.Linear(20, 64)
    assert torch.equal(model.user_embedding.weight, user.weight)
    assert torch.equal(model.item_id_embedding.weight, item.weight)
    assert torch.equal(model.image_trs.weight, image_trs.weight)
    assert torch.equal(model.text_trs.bias, text_trs.bias)
    # raw features are trainable copies, the caller's tensors untouched
    assert model.text_embedding.weight.requires_grad
    assert model.text_embedding.weight.data_ptr() != feats["text"].data_ptr()


def test_mm_adj_mixes_image_and_text_graphs() -> None:
    feats = make_features(TWO)
    model = build(feats)
    expected = graphs.freedom_mm_adj(feats, 10, 0.1).to_dense()
    assert torch.equal(model.mm_adj.to_dense(), expected)
    torch.testing.assert_close(model.mm_adj.to_dense().sum(1), torch.ones(N_ITEMS), rtol=0, atol=1e-5)


@pytest.mark.parametrize("dropout", [0.8, 0.9])
def test_pre_epoch_prunes_and_eval_uses_full_graph(dropout: float) -> None:
    model = build(make_features(TWO), dropout=dropout)
    n_edges = make_data().train_users.size
    model.pre_epoch(0)
    assert model.masked_adj._nnz() == 2 * int(n_edges * (1.0 - dropout))
    first = model.masked_adj.to_dense()
    model.pre_epoch(1)
    assert not torch.equal(first, model.masked_adj.to_dense())  # resampled every epoch
    model.prepare_eval()
    users, items = model.forward(model.norm_adj)
    assert torch.equal(model.score_users(torch.arange(5)), users[:5] @ items.t())
    pruned_users, pruned_items = model.forward(model.masked_adj)
    assert not torch.allclose(items, pruned_items)


def test_no_dropout_trains_on_full_graph() -> None:
    model = build(make_features(TWO), dropout=0.0)
    model.pre_epoch(0)
    assert model.masked_adj is model.norm_adj


def test_loss_before_pre_epoch_is_a_clear_error() -> None:
    model = build(make_features(TWO))
    with pytest.raises(RuntimeError, match="pre_epoch"):
        model.loss(*batch(0), 0)


def mmrec_loss(model, users, pos, neg) -> torch.Tensor:
    """MMRec's calculate_loss, written out (the modality terms always computed)."""
    ua, ia = model.forward(model.masked_adj)
    u = ua[users]
    loss = graphs.bpr_loss(u, ia[pos], ia[neg])
    text = model.text_trs(model.text_embedding.weight)
    image = model.image_trs(model.image_embedding.weight)
    mf_t = graphs.bpr_loss(u, text[pos], text[neg])
    mf_v = graphs.bpr_loss(u, image[pos], image[neg])
    return loss + model.reg_weight * (mf_t + mf_v)


@pytest.mark.parametrize("reg_weight", [0.0, 1e-3])
def test_loss_matches_mmrec_formula(reg_weight: float) -> None:
    model = build(make_features(TWO), reg_weight=reg_weight)
    model.pre_epoch(0)
    users, pos, neg = batch(1)
    ours = model.loss(users, pos, neg, 0)
    ours.backward()
    ours_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    reference = mmrec_loss(model, users, pos, neg)
    reference.backward()
    assert torch.equal(ours, reference)
    for name, param in model.named_parameters():
        if name in ours_grads:
            assert torch.equal(ours_grads[name], param.grad), name
        else:  # skipped when reg_weight == 0: MMRec's gradient there is exactly zero
            assert reg_weight == 0.0 and not param.grad.any(), name
    if reg_weight > 0:
        assert ours_grads["text_embedding.weight"].abs().sum() > 0  # raw features get gradient


@pytest.mark.parametrize("names", [{"image": 12}, {"text": 20}, {"fused": 24}, TWO])
def test_one_or_two_modalities(names: dict[str, int]) -> None:
    model = build(make_features(names), reg_weight=1e-3)
    model.pre_epoch(0)
    loss = model.loss(*batch(2), 0)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    model.prepare_eval()
    assert model.score_users(torch.tensor([0, 3, 7])).shape == (3, N_ITEMS)
    slots = [s for s in ("image", "text") if getattr(model, f"{s}_trs") is not None]
    assert slots == (
        ["image"] if names == {"image": 12} else ["text"] if len(names) == 1 else ["image", "text"]
    )
    if len(names) == 1:
        x = next(iter(make_features(names).values()))
        assert torch.equal(model.mm_adj.to_dense(), graphs.freedom_mm_adj({"t": x}, 10, 0.1).to_dense())


def test_bad_features_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="expected \\[n_items=40"):
        build({"text": torch.randn(39, 8)})
    with pytest.raises(ValueError, match="not supported"):
        build(make_features({"image": 4, "text": 4, "fused": 4}))
    with pytest.raises(ValueError, match="unknown parameter"):
        build(make_features(TWO), knn=3)


def train_scores(seed: int) -> torch.Tensor:
    model = build(make_features(TWO), seed=seed, reg_weight=1e-3)
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


def test_deterministic_on_cpu() -> None:
    first, second = train_scores(999), train_scores(999)
    assert torch.equal(first, second)
    assert not torch.equal(first, train_scores(1000))
