"""VBPR, BM3, MGCN, LGMRec, ItemKNNCBF against dense transcriptions of MMRec's formulas.

Each model's graph pieces are compared with dense references (mmrec_reference.py), and one training
step (loss and every parameter's gradient, same parameters and same RNG state) with a direct
transcription of MMRec's ``calculate_loss`` written here."""

from __future__ import annotations

import mmrec_reference as ref
import pytest
import torch
import torch.nn.functional as F

from vlmrec.models import graphs, registry
from vlmrec.models.base import InteractionData, Recommender

DATA = ref.tiny_interactions()
TWO = {"image": 9, "text": 7}


def make_features(dims: dict[str, int], seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {name: torch.randn(DATA.n_items, d, generator=g) for name, d in dims.items()}


def build(
    name: str, feats: dict[str, torch.Tensor] | None, data: InteractionData = DATA, **params
) -> Recommender:
    torch.manual_seed(0)
    return registry.build(name, data, feats, params, torch.device("cpu"))


def batch(seed: int = 2, size: int = 10) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    users = torch.randint(0, DATA.n_users, (size,), generator=g)
    return (
        users,
        torch.randint(0, DATA.n_items, (size,), generator=g),
        torch.randint(0, DATA.n_items, (size,), generator=g),
    )


def assert_same_step(model: Recommender, reference, users, pos, neg, rng_seed: int = 5) -> None:  # noqa: ANN001
    """Same loss and same gradient for every trainable parameter (the Adam step then agrees)."""
    params = [p for p in model.parameters() if p.requires_grad]
    torch.manual_seed(rng_seed)
    ours = model.loss(users, pos, neg, 0)
    grads = torch.autograd.grad(ours.sum(), params, allow_unused=True)
    torch.manual_seed(rng_seed)
    theirs = reference(users, pos, neg)
    ref_grads = torch.autograd.grad(theirs.sum(), params, allow_unused=True)
    torch.testing.assert_close(ours.reshape(()), theirs.reshape(()).float(), rtol=1e-5, atol=1e-6)
    for (name, _), g, rg in zip(model.named_parameters(), grads, ref_grads, strict=True):
        if rg is None:
            assert g is None or torch.count_nonzero(g) == 0, name
        else:
            torch.testing.assert_close(g, rg, rtol=1e-4, atol=1e-6, msg=lambda m, n=name: f"{n}: {m}")


# ---------------------------------------------------------------------------------------------- graphs
def test_weighted_graphs_sum_duplicate_rows() -> None:
    adj, r_block = graphs.ui_sym_norm_weighted(
        DATA.n_users, DATA.n_items, DATA.train_users, DATA.train_items, DATA.edge_counts()
    )
    dense = ref.dense_lil_sym_norm(DATA)
    torch.testing.assert_close(adj.to_dense(), dense)
    torch.testing.assert_close(r_block.to_dense(), dense[: DATA.n_users, DATA.n_users :])
    raw = graphs.user_item_matrix(
        DATA.n_users, DATA.n_items, DATA.train_users, DATA.train_items, DATA.edge_counts()
    )
    torch.testing.assert_close(raw.to_dense(), ref.dense_r(DATA, counts=True).float())
    assert raw.to_dense()[DATA.train_users[0], DATA.train_items[0]] == 2.0


def test_lattice_ui_graph_counts_duplicates_twice() -> None:
    adj = graphs.ui_row_norm_self_loops(
        DATA.n_users, DATA.n_items, DATA.train_users, DATA.train_items, weights=DATA.edge_counts()
    )
    a = ref.dense_bipartite(ref.dense_r(DATA, counts=True)) + torch.eye(
        DATA.n_users + DATA.n_items, dtype=torch.float64
    )
    torch.testing.assert_close(adj.to_dense(), (a / a.sum(1, keepdim=True)).float())


def test_lattice_model_uses_the_summed_graph() -> None:
    model = build("lattice", make_features(TWO))
    a = ref.dense_bipartite(ref.dense_r(DATA, counts=True))
    a = a + torch.eye(DATA.n_users + DATA.n_items, dtype=torch.float64)
    torch.testing.assert_close(model.norm_adj.to_dense(), (a / a.sum(1, keepdim=True)).float())


def test_shrunk_cosine_knn_matches_dense_block_wise() -> None:
    x = make_features({"f": 6})["f"]
    for block in (4, 1024):
        entries = graphs.shrunk_cosine_knn(x, 5, 10.0, block)
        torch.testing.assert_close(entries.to_dense(), ref.dense_itemknn(x, 5, 10.0))
    assert graphs.shrunk_cosine_knn(x, 99, 0.0).nnz() == DATA.n_items**2  # knn_k capped at n_items


def test_two_modality_slots_copy_one_matrix() -> None:
    feats = make_features({"fused": 5})
    slots = graphs.two_modality_slots(feats, "mgcn", DATA.n_items)
    assert set(slots) == {"image", "text"}
    assert torch.equal(slots["image"], feats["fused"]) and torch.equal(slots["text"], feats["fused"])
    assert slots["image"].data_ptr() != slots["text"].data_ptr()


# ---------------------------------------------------------------------------------------------- VBPR
@pytest.mark.parametrize("dims", [TWO, {"fused": 6}])
def test_vbpr_step_matches_mmrec(dims: dict[str, int]) -> None:
    feats = make_features(dims)
    model = build("vbpr", feats, reg_weight=0.1)
    raw = (
        torch.cat([feats["text"], feats["image"]], -1)
        if "text" in feats and "image" in feats
        else feats["fused"]
    )

    def reference(users, pos, neg):  # noqa: ANN001, ANN202
        item = torch.cat((model.i_embedding, model.item_linear(raw)), -1)
        u, p, n = model.u_embedding[users], item[pos], item[neg]
        return ref.bpr_gamma(u, p, n) + 0.1 * ref.emb_loss(u, p, n)

    assert_same_step(model, reference, *batch())
    assert torch.count_nonzero(model.item_linear.bias) == 0  # xavier_normal_initialization: bias 0
    users = torch.arange(DATA.n_users)
    expected = model.u_embedding @ torch.cat((model.i_embedding, model.item_linear(raw)), -1).T
    torch.testing.assert_close(model.score_users(users), expected.detach())


# ---------------------------------------------------------------------------------------------- BM3
@pytest.mark.parametrize(("dims", "p"), [(TWO, 0.3), ({"fused": 6}, 0.3), (TWO, 0.0)])
def test_bm3_step_matches_mmrec(dims: dict[str, int], p: float) -> None:
    model = build("bm3", make_features(dims), n_layers=2, dropout=p, reg_weight=0.1, cl_weight=2.0)
    adj = ref.dense_dict_sym_norm(DATA)
    torch.testing.assert_close(model.norm_adj.to_dense(), adj)
    t_name = "text" if model.text_embedding is not None else None
    v_name = "image" if model.image_embedding is not None else None

    def reference(users, pos, neg):  # noqa: ANN001, ANN202
        ego = torch.cat((model.user_embedding.weight, model.item_id_embedding.weight), 0)
        u_ori, i_ori = torch.split(ref.lightgcn_dense(adj, ego, 2), [DATA.n_users, DATA.n_items])
        i_ori = i_ori + model.item_id_embedding.weight
        t_on = model.text_trs(model.text_embedding.weight) if t_name else None
        v_on = model.image_trs(model.image_embedding.weight) if v_name else None
        with torch.no_grad():
            u_t, i_t = F.dropout(u_ori.clone(), p), F.dropout(i_ori.clone(), p)
            t_t = F.dropout(t_on.clone(), p) if t_name else None
            v_t = F.dropout(v_on.clone(), p) if v_name else None
        u_on, i_on = model.predictor(u_ori)[users], model.predictor(i_ori)[pos]
        u_t, i_t = u_t[users], i_t[pos]
        cos = F.cosine_similarity
        lt = lv = ltv = lvt = 0.0
        if t_name:
            t_on2 = model.predictor(t_on)[pos]
            lt = 1 - cos(t_on2, i_t, dim=-1).mean()
            ltv = 1 - cos(t_on2, t_t[pos], dim=-1).mean()
        if v_name:
            v_on2 = model.predictor(v_on)[pos]
            lv = 1 - cos(v_on2, i_t, dim=-1).mean()
            lvt = 1 - cos(v_on2, v_t[pos], dim=-1).mean()
        loss_ui = 1 - cos(u_on, i_t, dim=-1).mean()
        loss_iu = 1 - cos(i_on, u_t, dim=-1).mean()
        return (loss_ui + loss_iu) + 0.1 * ref.emb_loss(u_ori, i_ori) + 2.0 * (lt + lv + ltv + lvt)

    assert_same_step(model, reference, *batch())


# ---------------------------------------------------------------------------------------------- MGCN
@pytest.mark.parametrize("dims", [TWO, {"fused": 6}])
def test_mgcn_step_matches_mmrec(dims: dict[str, int]) -> None:
    feats = make_features(dims)
    model = build("mgcn", feats, cl_loss=0.1, reg_weight=1e-2, batch_size=2048, knn_k=4)
    norm = ref.dense_lil_sym_norm(DATA)
    r = norm[: DATA.n_users, DATA.n_users :]
    img = feats.get("image", feats.get("fused"))
    txt = feats.get("text", feats.get("fused"))
    img_adj, txt_adj = ref.dense_knn_sym(img, 4), ref.dense_knn_sym(txt, 4)
    torch.testing.assert_close(model.image_original_adj.to_dense(), img_adj)
    torch.testing.assert_close(model.text_original_adj.to_dense(), txt_adj)
    m = model

    def forward():  # noqa: ANN202
        image_item = torch.multiply(
            m.item_id_embedding.weight, m.gate_v(m.image_trs(m.image_embedding.weight))
        )
        text_item = torch.multiply(m.item_id_embedding.weight, m.gate_t(m.text_trs(m.text_embedding.weight)))
        ego = torch.cat([m.user_embedding.weight, m.item_id_embedding.weight], 0)
        content = ref.lightgcn_dense(norm, ego, 2)
        image_item = img_adj @ image_item
        image = torch.cat([r @ image_item, image_item], 0)
        text_item = txt_adj @ text_item
        text = torch.cat([r @ text_item, text_item], 0)
        w = torch.softmax(torch.cat([m.query_common(image), m.query_common(text)], -1), -1)
        common = w[:, 0].unsqueeze(1) * image + w[:, 1].unsqueeze(1) * text
        sep_i = torch.multiply(m.gate_image_prefer(content), image - common)
        sep_t = torch.multiply(m.gate_text_prefer(content), text - common)
        side = (sep_i + sep_t + common) / 3
        return content + side, side, content

    def info_nce(v1, v2, t):  # noqa: ANN001, ANN202
        v1, v2 = F.normalize(v1, dim=1), F.normalize(v2, dim=1)
        pos = torch.exp((v1 * v2).sum(-1) / t)
        ttl = torch.exp(v1 @ v2.T / t).sum(1)
        return torch.mean(-torch.log(pos / ttl))

    def reference(users, pos, neg):  # noqa: ANN001, ANN202
        all_e, side, content = forward()
        ua, ia = torch.split(all_e, [DATA.n_users, DATA.n_items])
        u, p, n = ua[users], ia[pos], ia[neg]
        reg = (0.5 * (u**2).sum() + 0.5 * (p**2).sum() + 0.5 * (n**2).sum()) / 2048
        mf = -torch.mean(F.logsigmoid((u * p).sum(1) - (u * n).sum(1)))
        su, si = torch.split(side, [DATA.n_users, DATA.n_items])
        cu, ci = torch.split(content, [DATA.n_users, DATA.n_items])
        cl = info_nce(si[pos], ci[pos], 0.2) + info_nce(su[users], cu[users], 0.2)
        return mf + 1e-2 * reg + 0.1 * cl

    assert_same_step(model, reference, *batch())
    assert model.lr_lambda(50) == pytest.approx(0.96)


def test_mgcn_l2_divisor_follows_training_batch_size() -> None:
    assert registry.get_model_class("mgcn").defaults["batch_size"] is None
    assert build("mgcn", make_features(TWO)).params["batch_size"] == 2048  # MMRec's default


# ---------------------------------------------------------------------------------------------- LGMRec
@pytest.mark.parametrize("dims", [TWO, {"fused": 6}])
def test_lgmrec_step_matches_mmrec(dims: dict[str, int]) -> None:
    feats = make_features(dims)
    model = build("lgmrec", feats, cl_weight=0.5, reg_weight=1e-2, hyper_num=3)
    m = model
    norm = ref.dense_dict_sym_norm(DATA)
    adj = ref.dense_r(DATA, counts=True).float()
    inv_inters = (1.0 / ((ref.dense_r(DATA, counts=False) > 0).sum(1, keepdim=True) + 1e-7)).float()
    v = feats.get("image", feats.get("fused"))
    t = feats.get("text", feats.get("fused"))
    drop = torch.nn.Dropout(p=0.5)

    def mge(feat, trs):  # noqa: ANN001, ANN202
        item = feat @ trs
        user = (adj @ item) * inv_inters
        out = torch.concat([user, item], 0)
        for _ in range(2):
            out = norm @ out
        return out

    def hgnn(i_hyper, u_hyper, embeds):  # noqa: ANN001, ANN202
        lat = i_hyper.T @ embeds
        return u_hyper @ lat, i_hyper @ lat

    def reference(users, pos, neg):  # noqa: ANN001, ANN202
        iv = v @ m.image_hyper
        uv = adj @ iv
        iv, uv = F.gumbel_softmax(iv, 0.2, dim=1, hard=False), F.gumbel_softmax(uv, 0.2, dim=1, hard=False)
        it = t @ m.text_hyper
        ut = adj @ it
        it, ut = F.gumbel_softmax(it, 0.2, dim=1, hard=False), F.gumbel_softmax(ut, 0.2, dim=1, hard=False)
        ego = torch.cat((m.user_embedding.weight, m.item_id_embedding.weight), 0)
        cge = ref.lightgcn_dense(norm, ego, 2)
        lge = cge + F.normalize(mge(v, m.image_trs)) + F.normalize(mge(t, m.text_trs))
        uv_e, iv_e = hgnn(drop(iv), drop(uv), cge[DATA.n_users :])
        ut_e, it_e = hgnn(drop(it), drop(ut), cge[DATA.n_users :])
        ghe = torch.concat([uv_e, iv_e], 0) + torch.concat([ut_e, it_e], 0)
        u_all, i_all = torch.split(lge + 0.3 * F.normalize(ghe), [DATA.n_users, DATA.n_items])
        u, p, n = u_all[users], i_all[pos], i_all[neg]

        def ssl(e1, e2, every):  # noqa: ANN001, ANN202
            e1, e2, every = F.normalize(e1), F.normalize(e2), F.normalize(every)
            pos_s = torch.exp(torch.mul(e1, e2).sum(1) / 0.2)
            ttl = torch.exp(e1 @ every.T / 0.2).sum(1)
            return -torch.log(pos_s / ttl).sum()

        hcl = ssl(uv_e[users], ut_e[users], ut_e) + ssl(iv_e[pos], it_e[pos], it_e)
        return ref.bpr_logsigmoid(u, p, n) + 0.5 * hcl + 1e-2 * ref.emb_loss(u, p, n)

    assert_same_step(model, reference, *batch())
    assert not any(p is m.image_features for p in m.parameters())  # features frozen, as in MMRec


# ---------------------------------------------------------------------------------------------- ItemKNNCBF
@pytest.mark.parametrize("dims", [TWO, {"fused": 6}])
def test_itemknncbf_scores_match_mmrec(dims: dict[str, int]) -> None:
    feats = make_features(dims)
    model = build("itemknncbf", feats, knn_k=4, shrink=10.0, knn_block_rows=5)
    assert not model.requires_training and not list(model.parameters())
    x = torch.cat([feats["image"], feats["text"]], -1) if len(feats) == 2 else feats["fused"]
    expected = ref.dense_r(DATA, counts=True).float() @ ref.dense_itemknn(x, 4, 10.0)
    users = torch.tensor([3, 0, 11, 3, 7])  # unordered, with a repeat
    torch.testing.assert_close(model.score_users(users), expected[users])
