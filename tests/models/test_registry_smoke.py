"""Every registered model, two epochs, one- and two-modality feature sets: finite loss, the cell's
output files, bit-identical reruns. A new model file is covered without touching this test."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from vlmrec.models import registry
from vlmrec.training.data import SplitData, from_frame
from vlmrec.training.grid import PointFiles, train_cell
from vlmrec.training.trainer import TrainSettings

N_USERS, N_ITEMS = 40, 30
FEATURE_SETS = {
    "one_modality": {"fused": 12},
    "two_modalities": {"image": 10, "text": 14},
}


def tiny_data() -> SplitData:
    rng = np.random.default_rng(3)
    rows = [(u, int(i), "train") for u in range(N_USERS) for i in rng.choice(N_ITEMS, 6, replace=False)]
    rows.append(rows[0])  # one duplicate training row (summed by some of MMRec's graphs)
    rows += [(u, (u * 7 + 1) % N_ITEMS, "valid") for u in range(N_USERS)]
    rows += [(u, (u * 5 + 2) % N_ITEMS, "test") for u in range(N_USERS)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "split"])
    return from_frame(frame)


def features(kind: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    return {
        name: rng.normal(size=(N_ITEMS, dim)).astype(np.float32) for name, dim in FEATURE_SETS[kind].items()
    }


def model_cases() -> list[tuple[str, str]]:
    cases = []
    for name in registry.available_models():
        kinds = list(FEATURE_SETS) if registry.get_model_class(name).uses_features else ["id_only"]
        cases += [(name, kind) for kind in kinds]
    return cases


def run_cell(model: str, kind: str, out_dir) -> dict:  # noqa: ANN001
    settings = TrainSettings(epochs=2, patience=5, batch_size=64, device="cpu", topk=(5, 10, 20))
    feats = None if kind == "id_only" else features(kind)
    out = PointFiles.in_dir(out_dir, "cell")
    return train_cell(model, {}, {}, tiny_data(), feats, settings, [7], "valid", out, {"feature": kind})


@pytest.mark.parametrize(("model", "kind"), model_cases())
def test_every_model_trains_two_epochs(model: str, kind: str, tmp_path) -> None:
    torch.set_num_threads(1)
    first = run_cell(model, kind, tmp_path / "a")
    out = PointFiles.in_dir(tmp_path / "a", "cell")
    for path in (out.result, out.per_user, out.curve, out.checkpoint):
        assert path.exists() and path.stat().st_size > 0, path
    assert first["status"] == "ok"
    curve = pd.read_csv(out.curve)
    expected_epochs = 2 if registry.get_model_class(model).requires_training else 1
    assert len(curve) == expected_epochs
    assert all(math.isfinite(v) for v in curve["loss"])
    if registry.get_model_class(model).requires_training:
        assert (curve["loss"] != 0).all()
    assert 0.0 <= first["test"]["recall@20"] <= 1.0
    assert pd.read_parquet(out.per_user)["user_id"].nunique() == N_USERS
    again = run_cell(model, kind, tmp_path / "b")
    assert again["valid"] == first["valid"] and again["test"] == first["test"]
    again_curve = pd.read_csv(PointFiles.in_dir(tmp_path / "b", "cell").curve)
    assert again_curve["loss"].tolist() == curve["loss"].tolist()
    state_a, state_b = (
        torch.load(out.checkpoint),
        torch.load(PointFiles.in_dir(tmp_path / "b", "cell").checkpoint),
    )
    assert state_a.keys() == state_b.keys()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)


def test_smoke_covers_every_registered_model() -> None:
    covered = {name for name, _ in model_cases()}
    assert covered == set(registry.available_models())
    assert {"vbpr", "bm3", "mgcn", "lgmrec", "itemknncbf", "lightgcn", "freedom", "lattice"} <= covered
