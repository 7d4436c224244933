"""LATTICE: graphs vs a dense reference, gradient only on batch 0, one rebuild per eval, loss, variants."""

from __future__ import annotations

import model_fixtures
import pytest
import torch
from model_fixtures import N_ITEMS, N_USERS, TWO, batch, build_model, make_features
from torch import nn

from vlmrec.models import registry


def build(features: dict[str, torch.Tensor], seed: int = 999, **params) -> nn.Module:
    return build_model("lattice", features, seed, **params)


def dense_cosine(x: torch.Tensor) -> torch.Tensor:
    xn = x / torch.norm(x, p=2, dim=-1, keepdim=True)
    return xn @ xn.t()


def dense_sym_normalize(adj: torch.Tensor) -> torch.Tensor:
    """MMRec's compute_normalized_laplacian (dense)."""
    d = torch.pow(adj.sum(-1), -0.5)
    d[torch.isinf(d)] = 0.0
    return torch.diagflat(d) @ adj @ torch.diagflat(d)


def dense_lattice_graph(x: torch.Tensor, k: int) -> torch.Tensor:
    return dense_sym_normalize(dense_knn(x, k))


def dense_knn(x: torch.Tensor, k: int = 10) -> torch.Tensor:
    sim = dense_cosine(x)
    val, ind = torch.topk(sim, k, dim=-1)
    return torch.zeros_like(sim).scatter_(-1, ind, val)


@torch.no_grad()
def dense_item_adj(model, raw: dict[str, torch.Tensor]) -> torch.Tensor:
    """MMRec's dense forward(build_item_graph=True) graph."""
    w = torch.softmax(model.modal_weight, dim=0)
    learned = {s: dense_knn(getattr(model, f"{s}_trs")(getattr(model, f"{s}_embedding").weight)) for s in raw}
    original = {s: dense_lattice_graph(x, 10) for s, x in raw.items()}
    if len(raw) == 2:
        learned_adj = w[0] * learned["image"] + w[1] * learned["text"]
        original_adj = w[0] * original["image"] + w[1] * original["text"]
    else:
        (learned_adj,), (original_adj,) = learned.values(), original.values()
    return (1 - 0.9) * dense_sym_normalize(learned_adj) + 0.9 * original_adj


def test_registered_with_mmrec_defaults() -> None:
    cls = registry.get_model_class("lattice")
    assert cls.defaults["lambda_coeff"] == 0.9 and cls.defaults["knn_k"] == 10
    assert cls.defaults["batch_size"] is None and cls.defaults["n_ui_layers"] == 2


@pytest.mark.parametrize("names", [TWO, {"image": 12}, {"fused": 24}])
def test_item_graph_matches_dense_reference(names: dict[str, int]) -> None:
    feats = make_features(names)
    model = build(feats)
    with torch.no_grad():
        model.modal_weight.copy_(torch.tensor([0.2, 0.7]))  # unequal mix weights
    raw = {("text" if s == "fused" else s): x for s, x in feats.items()}
    got = model.build_item_adj().to_dense()
    torch.testing.assert_close(got, dense_item_adj(model, raw), rtol=1e-5, atol=1e-6)
    assert ((got != 0).sum(1) >= 10).all()


def test_ui_graph_is_row_normalised_with_self_loops() -> None:
    model = build(make_features(TWO))
    dense = model.norm_adj.to_dense()
    torch.testing.assert_close(dense.sum(1), torch.ones(N_USERS + N_ITEMS), rtol=0, atol=1e-6)
    assert (dense.diagonal() > 0).all()


def test_init_consumes_rng_in_mmrec_order() -> None:
    model = build(make_features(TWO), seed=7)
    reference = model_fixtures.mmrec_init_reference(7)
    assert torch.equal(model.item_id_embedding.weight, reference["item"].weight)
    assert torch.equal(model.image_trs.weight, reference["image_trs"].weight)
    assert torch.equal(model.text_trs.weight, reference["text_trs"].weight)
    assert torch.equal(model.modal_weight.data, torch.tensor([0.5, 0.5]))


GRAPH_PARAMS = ("image_trs.weight", "text_trs.weight", "modal_weight", "text_embedding.weight")


def graph_grads(model) -> dict[str, float]:
    named = dict(model.named_parameters())
    return {n: 0.0 if named[n].grad is None else float(named[n].grad.abs().sum()) for n in GRAPH_PARAMS}


def test_learned_graph_gets_gradient_only_on_first_batch_of_each_epoch() -> None:
    model = build(make_features(TWO), reg_weight=1e-3)
    for epoch in range(2):
        model.pre_epoch(epoch)
        for batch_index in range(3):
            model.zero_grad(set_to_none=True)
            model.loss(*batch(batch_index), batch_index).backward()
            grads = graph_grads(model)
            if batch_index == 0:
                assert all(g > 0 for g in grads.values()), grads
            else:
                assert all(g == 0 for g in grads.values()), grads
            assert model.item_id_embedding.weight.grad.abs().sum() > 0


def test_prepare_eval_rebuilds_once_and_scores_from_it(monkeypatch: pytest.MonkeyPatch) -> None:
    model = build(make_features(TWO))
    model.pre_epoch(0)
    model.loss(*batch(0), 0).backward()
    calls = []
    real = model.build_item_adj
    monkeypatch.setattr(model, "build_item_adj", lambda: calls.append(1) or real())
    model.prepare_eval()
    scores = torch.cat([model.score_users(torch.arange(s, s + 20)) for s in range(0, N_USERS, 20)])
    assert len(calls) == 1
    assert scores.shape == (N_USERS, N_ITEMS)
    with torch.no_grad():
        users, items = model.forward(build_graph=True)
    torch.testing.assert_close(scores, users @ items.t())


def test_loss_is_bpr_plus_l2_over_constant_batch_size() -> None:
    users, pos, neg = batch(3, size=17)  # a short last batch: the divisor stays 2048
    losses = {}
    for reg in (0.0, 1e-2):
        model = build(make_features(TWO), reg_weight=reg)
        model.pre_epoch(0)
        losses[reg] = model.loss(users, pos, neg, 0)
    with torch.no_grad():
        u_all, i_all = model.forward(build_graph=True)
    u, ip, ineg = u_all[users], i_all[pos], i_all[neg]
    l2 = 0.5 * ((u**2).sum() + (ip**2).sum() + (ineg**2).sum()) / 2048
    torch.testing.assert_close(losses[1e-2] - losses[0.0], 1e-2 * l2, rtol=1e-4, atol=1e-7)
    bpr = -torch.nn.functional.logsigmoid((u * ip).sum(1) - (u * ineg).sum(1)).mean()
    torch.testing.assert_close(losses[0.0], bpr, rtol=1e-5, atol=1e-7)


def test_lr_lambda_is_mmrec_decay() -> None:
    model = build(make_features({"text": 8}))
    assert model.lr_lambda(0) == 1.0
    assert model.lr_lambda(50) == pytest.approx(0.96)
    assert model.lr_lambda(125) == pytest.approx(0.96**2.5)


@pytest.mark.parametrize("names", [{"image": 12}, {"text": 20}, {"fused": 24}, TWO])
def test_one_or_two_modalities(names: dict[str, int]) -> None:
    model = build(make_features(names), reg_weight=1e-4)
    assert model_fixtures.one_step_scores(model, torch.tensor([1, 2])).shape == (2, N_ITEMS)


def train_scores(seed: int) -> torch.Tensor:
    return model_fixtures.train_scores("lattice", seed, reg_weight=1e-3)


def test_deterministic_on_cpu() -> None:
    first, second = train_scores(999), train_scores(999)
    assert torch.equal(first, second)
    assert not torch.equal(first, train_scores(1000))
