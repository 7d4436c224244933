"""Recommendations per cell and `python -m vlmrec evaluate / recommend` from best.pt."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vlmrec.cli import main as cli_main
from vlmrec.evaluation.metrics import metrics_from_hits
from vlmrec.serving import RECOMMENDATION_COLUMNS, load_cell_model, top_k
from vlmrec.training.grid import cell_files, cell_job
from vlmrec.utils.io import read_json

TRAINING = {
    "device": "cpu",
    "seeds": [3, 4],
    "select_on": "valid",
    "epochs": 3,
    "patience": 5,
    "batch_size": 256,
    "eval_batch_size": 37,  # several evaluation batches: recommend must score in the same ones
    "valid_metric": "recall@10",
    "topk": [5, 10, 20],
    "mask_valid_at_test": False,
}
MODELS = {
    "freedom": (
        {"embedding_size": 16, "feat_embed_dim": 16, "knn_k": 5, "n_ui_layers": 2},
        {"dropout": [0.8], "reg_weight": [0.0, 1e-4]},
    ),
    "lattice": ({"embedding_size": 16, "feat_embed_dim": 16, "knn_k": 5}, {"reg_weight": [0.0]}),
    "lightgcn": ({"embedding_size": 16, "n_layers": 2}, {"reg_weight": [1e-4]}),
}


def _toy_dataset(root: Path) -> tuple[Path, Path]:
    """interactions.parquet + user/item maps + a one-modality feature set, as the stages write them."""
    rng = np.random.default_rng(0)
    rows = []
    for user in range(90):
        items = rng.choice(40, 9, replace=False)
        rows += [(user, int(i), "train") for i in items[:7]]
        rows += [(user, int(items[7]), "valid"), (user, int(items[8]), "test")]
    dataset = root / "toy"
    dataset.mkdir(parents=True)
    pd.DataFrame(rows, columns=["user_id", "item_id", "split"]).to_parquet(dataset / "interactions.parquet")
    pd.DataFrame({"original_id": [f"U{u:03d}" for u in range(90)], "user_id": range(90)}).to_csv(
        dataset / "user_map.csv", index=False
    )
    pd.DataFrame({"asin": [f"B{i:04d}" for i in range(40)], "item_id": range(40)}).to_csv(
        dataset / "item_map.csv", index=False
    )
    features = dataset / "features" / "textual"
    features.mkdir(parents=True)
    np.save(features / "text.npy", rng.normal(size=(40, 12)).astype(np.float32))
    manifest = {"strategy": "textual", "modalities": {"text": {"file": "text.npy", "dim": 12}}}
    (features / "manifest.json").write_text(json.dumps({**manifest, "content_hash": "c0ffee"}))
    return dataset / "interactions.parquet", features


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """One trained cell per model (2 seeds, a 2-point grid for FREEDOM)."""
    root = tmp_path_factory.mktemp("serving")
    interactions, features = _toy_dataset(root)
    cells = {}
    for model, (params, grid) in MODELS.items():
        feature = "textual" if model != "lightgcn" else "id"
        out = root / "toy" / "runs" / model / feature
        cell_job(
            interactions,
            features if feature != "id" else None,
            model,
            params,
            grid,
            TRAINING,
            cell_files(out),
            {"dataset": "toy", "feature": feature},
            threads=1,
        )
        cells[model] = out
    return cells


@pytest.mark.parametrize("model", sorted(MODELS))
def test_evaluate_from_checkpoint_equals_metrics_json(trained, model, tmp_path) -> None:
    cell = trained[model]
    metrics = read_json(cell / "metrics.json")
    assert metrics["checkpoint"]["seed"] == 3 and metrics["inputs"]["interactions"].endswith(
        "interactions.parquet"
    )
    out = tmp_path / "eval.json"
    assert cli_main(["evaluate", "--checkpoint", str(cell / "best.pt"), "--out", str(out), "--check"]) == 0
    recomputed = read_json(out)
    first_seed = next(e for e in metrics["per_seed"] if e["seed"] == 3)
    assert recomputed["test"] == first_seed["test"]
    assert recomputed["valid"] == first_seed["valid"]
    assert recomputed["max_abs_diff"] == 0.0


@pytest.mark.parametrize("model", sorted(MODELS))
def test_saved_recommendations_reproduce_the_per_user_test_metrics(trained, model) -> None:
    cell = trained[model]
    recs = pd.read_parquet(cell / "recommendations.parquet")
    assert list(recs.columns) == RECOMMENDATION_COLUMNS
    assert recs.groupby("user_id")["rank"].apply(list).map(lambda r: r == list(range(1, 21))).all()
    assert (recs["asin"] == recs["item_id"].map(lambda i: f"B{i:04d}")).all()
    assert (recs["original_user_id"] == recs["user_id"].map(lambda u: f"U{u:03d}")).all()
    # No training item is recommended.
    inter = pd.read_parquet(cell.parents[3] / "toy" / "interactions.parquet")
    train = set(map(tuple, inter.loc[inter["split"] == "train", ["user_id", "item_id"]].to_numpy()))
    assert not any((u, i) in train for u, i in recs[["user_id", "item_id"]].to_numpy())
    # Recall/NDCG recomputed from the lists equal the first seed's per-user test vectors.
    test = inter[inter["split"] == "test"].groupby("user_id")["item_id"].apply(set)
    users = np.sort(recs["user_id"].unique())
    assert np.array_equal(users, test.index.to_numpy())
    items = recs.sort_values(["user_id", "rank"])["item_id"].to_numpy().reshape(len(users), 20)
    hits = np.array([[item in test[u] for item in row] for u, row in zip(users, items)])
    mine = metrics_from_hits(hits, np.array([len(test[u]) for u in users]), [10, 20])
    per_user = pd.read_parquet(cell / "per_user_test.parquet")
    first = per_user[per_user["seed"] == 3].set_index("user_id").loc[users]
    for key in ("recall@10", "ndcg@20"):
        np.testing.assert_array_equal(mine[key], first[key].to_numpy())


def test_recommend_command_for_given_users(trained, tmp_path) -> None:
    cell = trained["freedom"]
    out = tmp_path / "recs.csv"
    args = ["recommend", "--checkpoint", str(cell / "best.pt"), "--original-users", "U004", "U001"]
    assert cli_main([*args, "--k", "5", "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert frame["original_user_id"].tolist() == ["U004"] * 5 + ["U001"] * 5
    saved = pd.read_parquet(cell / "recommendations.parquet")
    for user in (4, 1):  # the same items as the saved top-20's first five
        expected = saved[(saved["user_id"] == user) & (saved["rank"] <= 5)]["item_id"].tolist()
        assert frame[frame["user_id"] == user]["item_id"].tolist() == expected
    assert all(g["score"].is_monotonic_decreasing for _, g in frame.groupby("user_id"))
    bad_user = ["recommend", "--checkpoint", str(cell / "best.pt"), "--users", "999", "--out", str(out)]
    assert cli_main(bad_user) == 1


def test_changed_features_are_refused(trained, tmp_path) -> None:
    cell = trained["freedom"]
    features = Path(read_json(cell / "metrics.json")["inputs"]["feature_dir"])
    other = tmp_path / "other"
    other.mkdir()
    (other / "text.npy").write_bytes((features / "text.npy").read_bytes())
    manifest = read_json(features / "manifest.json")
    (other / "manifest.json").write_text(json.dumps({**manifest, "content_hash": "different"}))
    with pytest.raises(ValueError, match="content_hash"):
        load_cell_model(cell / "best.pt", features_dir=other)


def test_top_k_rejects_unknown_users(trained) -> None:
    cell = load_cell_model(trained["lightgcn"] / "best.pt")
    with pytest.raises(ValueError, match="outside"):
        top_k(cell.model, cell.data, [0, 90], 5)
