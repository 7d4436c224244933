"""The diagnostics section of the report: tables, slices.csv and both figures from fixture files."""

from __future__ import annotations

import pandas as pd
import pytest
from PIL import Image

from vlmrec.diagnostics.table import collect
from vlmrec.report.diagnostic_plots import make_diagnostic_plots, write_diagnostics_tables, write_slices_csv
from vlmrec.utils.io import write_json

STRATEGIES = ["original", "textual", "dual"]


def _diagnostics(strategy: str, overlap: float) -> dict:
    row = {
        "dim": 8,
        "overlap@10": overlap,
        "overlap_items": 50,
        "spearman": overlap / 2,
        "spearman_pairs": 100,
    }
    row |= {"anisotropy": 0.2, "effective_rank": 5.0, "duplicate_share": 0.0, "hubness": 1.5}
    modalities = {"text": row} if strategy == "textual" else {"image": row, "text": row, "joint": row}
    cross = {"cross_modal_paired": 0.4, "cross_modal_random": 0.1, "cross_modal_gap": 0.3}
    return {
        "dataset": "demo",
        "strategy": strategy,
        "k": 10,
        "modalities": modalities,
        "cross_modal": cross if strategy == "dual" else {},
    }


def _cell(model: str, feature: str, recall: float) -> dict:
    buckets = {
        name: {
            "n_items": 10,
            "n_users": 5,
            "n_targets": 7,
            "recall@20": recall * f,
            "ndcg@20": recall * f / 2,
        }
        | {"recall_contrib@20": recall * f / 3}
        for name, f in (("head", 1.5), ("torso", 1.0), ("tail", 0.5))
    }
    users = {name: {"n_users": 3, "recall@20": recall, "ndcg@20": recall / 2} for name in ("heavy", "light")}
    return {
        "dataset": "demo",
        "model": model,
        "feature": feature,
        "status": "ok",
        "test": {"recall@20": recall},
        "test_std": {"recall@20": 0.01},
        "slices": {
            "item_popularity": {"edges": [0.2, 0.6], "names": list(buckets), "buckets": buckets},
            "user_activity": {"edges": [0.5], "names": list(users), "buckets": users},
        },
    }


def _fixtures(tmp_path):
    diag_paths, cell_paths = [], []
    for index, strategy in enumerate(STRATEGIES):
        path = tmp_path / f"diag_{strategy}.json"
        write_json(path, _diagnostics(strategy, 0.1 + 0.1 * index))
        diag_paths.append(path)
        for model, offset in (("freedom", 0.0), ("lattice", 0.05)):
            cell = tmp_path / f"{model}_{strategy}.json"
            write_json(cell, _cell(model, strategy, 0.2 + 0.05 * index + offset))
            cell_paths.append(cell)
    return diag_paths, cell_paths


def test_tables_and_slices_csv(tmp_path) -> None:
    diag_paths, cell_paths = _fixtures(tmp_path)
    frame = collect(diag_paths, tmp_path / "diagnostics.csv")
    assert list(pd.read_csv(tmp_path / "diagnostics.csv").columns) == [
        "dataset",
        "strategy",
        "modality",
        "measure",
        "value",
    ]
    assert set(frame["modality"]) == {"image", "text", "joint", "image~text"}
    write_diagnostics_tables(frame, tmp_path / "d.md", tmp_path / "d.html")
    md = (tmp_path / "d.md").read_text()
    assert "| Dual | joint | 8 | 0.300 |" in md
    assert "gap +0.300" in md
    assert "<table>" in (tmp_path / "d.html").read_text()
    slices = write_slices_csv(cell_paths, tmp_path / "slices.csv")
    head = slices[(slices.model == "freedom") & (slices.feature == "dual") & (slices.bucket == "head")]
    assert head[head.metric == "recall"]["value"].item() == pytest.approx((0.2 + 0.1) * 1.5)
    assert set(slices["slicing"]) == {"item_popularity", "user_activity"}


def test_figures_are_written_and_readable(tmp_path) -> None:
    diag_paths, cell_paths = _fixtures(tmp_path)
    outputs = {
        kind: (tmp_path / f"{kind}.png", tmp_path / f"{kind}.svg") for kind in ("agreement", "popularity")
    }
    make_diagnostic_plots(
        "demo", diag_paths, cell_paths, outputs, "recall", 20, ["freedom", "lattice"], STRATEGIES
    )
    for png, svg in outputs.values():
        with Image.open(png) as image:
            assert image.size[0] > 400 and image.size[1] > 200
        assert svg.read_text().startswith("<?xml")
    # Agreement and recall increase together in the fixtures: the printed rank correlation is +1.
    assert "+1.00" in outputs["agreement"][1].read_text()
