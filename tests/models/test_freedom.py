"""FREEDOM: init order, graphs, pruning, loss, eval, modality variants, determinism."""

from __future__ import annotations

import model_fixtures
import pytest
import torch
from model_fixtures import N_ITEMS, TWO, batch, build_model, make_data, make_features
from torch import nn

from vlmrec.models import graphs, registry


def build(features: dict[str, torch.Tensor], seed: int = 999, **params) -> nn.Module:
    return build_model("freedom", features, seed, **params)


def test_registered_with_mmrec_defaults() -> None:
    cls = registry.get_model_class("freedom")
    assert cls.defaults["knn_k"] == 10 and cls.defaults["mm_image_weight"] == 0.1
    assert cls.defaults["n_mm_layers"] == 1 and cls.defaults["n_ui_layers"] == 2
    assert cls.defaults["learning_rate"] == 0.001


def test_init_consumes_rng_in_mmrec_order() -> None:
    feats = make_features(TWO)
    model = build(feats, seed=5)
    reference = model_fixtures.mmrec_init_reference(5)
    assert torch.equal(model.user_embedding.weight, reference["user"].weight)
    assert torch.equal(model.item_id_embedding.weight, reference["item"].weight)
    assert torch.equal(model.image_trs.weight, reference["image_trs"].weight)
    assert torch.equal(model.text_trs.bias, reference["text_trs"].bias)
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
    """MMRec's calculate_loss, written out (modality terms always computed, whole catalogue projected)."""
    ua, ia = model.forward(model.masked_adj)
    u = ua[users]
    loss = graphs.bpr_loss(u, ia[pos], ia[neg])
    modality = 0.0
    for slot in ("text", "image"):  # mf_t_loss + mf_v_loss
        if getattr(model, f"{slot}_embedding") is not None:
            full = getattr(model, f"{slot}_trs")(getattr(model, f"{slot}_embedding").weight)
            modality = modality + graphs.bpr_loss(u, full[pos], full[neg])
    return loss + model.reg_weight * modality


def loss_and_grads(model, loss_fn, users, pos, neg) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss = loss_fn(users, pos, neg)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads


def test_loss_matches_mmrec_formula_without_modality_terms() -> None:
    """reg_weight == 0: the skipped terms' gradient is exactly zero in MMRec; the rest bit-identical."""
    model = build(make_features(TWO), reg_weight=0.0)
    model.pre_epoch(0)
    users, pos, neg = batch(1)
    ours, ours_grads = loss_and_grads(model, lambda *b: model.loss(*b, 0), users, pos, neg)
    reference, ref_grads = loss_and_grads(model, lambda *b: mmrec_loss(model, *b), users, pos, neg)
    assert torch.equal(ours, reference)
    for name, grad in ref_grads.items():
        if name in ours_grads:
            assert torch.equal(ours_grads[name], grad), name
        else:
            assert not grad.any(), name
    assert "text_trs.weight" not in ours_grads


@pytest.mark.parametrize("names", [TWO, {"text": 20}, {"image": 12}])
def test_modality_terms_match_full_projection(names: dict[str, int]) -> None:
    """reg_weight > 0: projecting only the batch's unique items == MMRec's whole-catalogue projection."""
    model = build(make_features(names), reg_weight=0.5)  # large weight: the terms matter in the check
    model.pre_epoch(0)
    users, pos, neg = batch(3, size=16)  # items repeat within the batch
    assert torch.unique(torch.cat([pos, neg])).numel() < N_ITEMS  # some items are not in the batch
    ours, ours_grads = loss_and_grads(model, lambda *b: model.loss(*b, 0), users, pos, neg)
    reference, ref_grads = loss_and_grads(model, lambda *b: mmrec_loss(model, *b), users, pos, neg)
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-6)
    assert ours_grads.keys() == ref_grads.keys()
    for name, grad in ref_grads.items():
        torch.testing.assert_close(ours_grads[name], grad, rtol=1e-5, atol=1e-6, msg=name)
    for slot in names:
        slot = "image" if slot == "image" else "text"
        raw = ours_grads[f"{slot}_embedding.weight"]
        assert raw.abs().sum() > 0  # raw features get gradient ...
        outside = torch.ones(N_ITEMS, dtype=torch.bool)
        outside[torch.cat([pos, neg])] = False
        assert not raw[outside].any()  # ... only on the batch's items, as in MMRec


@pytest.mark.parametrize("names", [{"image": 12}, {"text": 20}, {"fused": 24}, TWO])
def test_one_or_two_modalities(names: dict[str, int]) -> None:
    model = build(make_features(names), reg_weight=1e-3)
    assert model_fixtures.one_step_scores(model, torch.tensor([0, 3, 7])).shape == (3, N_ITEMS)
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
    return model_fixtures.train_scores("freedom", seed, reg_weight=1e-3)


def test_deterministic_on_cpu() -> None:
    first, second = train_scores(999), train_scores(999)
    assert torch.equal(first, second)
    assert not torch.equal(first, train_scores(1000))
