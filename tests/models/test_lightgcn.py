"""LightGCN: graph and propagation against dense references, MMRec's loss, and it learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_fixtures import small_baby

from vlmrec.models.base import InteractionData
from vlmrec.models.lightgcn import LightGCN
from vlmrec.models.registry import available_models, build
from vlmrec.training.trainer import TrainSettings, make_evaluator, train_run


def _data() -> InteractionData:
    users = np.array([0, 0, 1, 2, 2, 2])
    items = np.array([0, 1, 1, 0, 2, 3])
    # user 3 and item 4 are isolated nodes
    return InteractionData(n_users=4, n_items=5, train_users=users, train_items=items)


def _dense_norm_adj(data: InteractionData) -> torch.Tensor:
    n = data.n_users + data.n_items
    a = torch.zeros(n, n)
    for u, i in zip(data.train_users, data.train_items):
        a[u, data.n_users + i] = a[data.n_users + i, u] = 1.0
    d = (a.sum(1) + 1e-7).pow(-0.5)
    return d[:, None] * a * d[None, :]


def test_registered() -> None:
    assert "lightgcn" in available_models()


def test_norm_adj_and_propagation_match_dense_reference() -> None:
    data = _data()
    torch.manual_seed(0)
    model = build("lightgcn", data, None, {"n_layers": 2, "embedding_size": 8}, torch.device("cpu"))
    dense = _dense_norm_adj(data)
    torch.testing.assert_close(model.norm_adj.to_dense(), dense)
    ego = torch.cat([model.user_embedding, model.item_embedding]).detach()
    layers = [ego, dense @ ego, dense @ dense @ ego]
    expected = torch.stack(layers).mean(0)
    users, items = model.forward()
    torch.testing.assert_close(torch.cat([users, items]), expected)


def test_loss_is_bpr_plus_embloss_of_ego_embeddings() -> None:
    data = _data()
    model = build("lightgcn", data, None, {"reg_weight": 0.3, "embedding_size": 8}, torch.device("cpu"))
    users, pos, neg = torch.tensor([0, 2]), torch.tensor([1, 3]), torch.tensor([4, 1])
    u_all, i_all = model.forward()
    diff = (u_all[users] * i_all[pos]).sum(1) - (u_all[users] * i_all[neg]).sum(1)
    bpr = -torch.log(1e-10 + torch.sigmoid(diff)).mean()
    ego = (model.user_embedding[users], model.item_embedding[pos], model.item_embedding[neg])
    norms = [e.norm() for e in ego]  # Frobenius norms, not squared (MMRec's EmbLoss)
    expected = bpr + 0.3 * sum(norms) / 2
    torch.testing.assert_close(model.loss(users, pos, neg, 0), expected)


def test_scores_use_fresh_embeddings_after_training_resumes() -> None:
    model = LightGCN(_data(), None, {"embedding_size": 8}, torch.device("cpu"))
    model.eval()
    model.prepare_eval()
    before = model.score_users(torch.tensor([0])).clone()
    model.train()
    with torch.no_grad():
        model.item_embedding.add_(1.0)
    model.eval()
    assert not torch.equal(model.score_users(torch.tensor([0])), before)


def test_unknown_parameter_is_rejected() -> None:
    with pytest.raises(ValueError, match="models.lightgcn: unknown parameter"):
        build("lightgcn", _data(), None, {"dropout": 0.5}, torch.device("cpu"))


def test_short_training_on_real_baby_beats_popularity(baby_inter_path) -> None:
    data = small_baby(baby_inter_path, 3000)
    settings = TrainSettings(epochs=8, patience=3, device="cpu")
    params = {"reg_weight": 1e-4, "learning_rate": 0.005}
    result = train_run("lightgcn", params, data, None, settings, seed=999)
    popularity = torch.as_tensor(np.bincount(data.train_items, minlength=data.n_items), dtype=torch.float32)
    evaluator = make_evaluator(data, settings, torch.device("cpu"))
    pop = evaluator.evaluate(lambda users: popularity.expand(len(users), -1).clone())
    pop_recall = pop["test"].mean()["recall@20"]
    assert result.status == "ok" and result.best_epoch is not None
    # Popularity is a strong baseline on this sample (test Recall@20 ~0.098); LightGCN reaches ~0.114.
    assert result.test["recall@20"] > 1.1 * pop_recall, (result.test["recall@20"], pop_recall)
    assert result.test_per_user is not None
    assert result.test_per_user.per_user["recall@20"].mean() == pytest.approx(result.test["recall@20"])
