"""Preemption-safe training: a run killed at epoch k and rerun equals an uninterrupted run exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from vlmrec.training import trainer as trainer_module
from vlmrec.training.checkpoint import Checkpointing
from vlmrec.training.data import SplitData, from_frame
from vlmrec.training.grid import PointFiles, RunInputs, resume_checkpoint, run_point
from vlmrec.training.trainer import RunResult, TrainSettings, train_run
from vlmrec.utils.io import read_json

SETTINGS = TrainSettings(
    epochs=6, patience=50, batch_size=32, topk=(5, 10), valid_metric="recall@10", device="cpu"
)
KILL_AT = 3  # the epoch during which the first attempt dies


class Preempted(Exception):
    """Stands in for SIGTERM/SIGKILL from the scheduler in the middle of an epoch."""


def _data() -> SplitData:
    rng = np.random.default_rng(0)
    rows = [(u, int(i), "train") for u in range(40) for i in rng.choice(24, 6, replace=False)]
    rows += [(u, (u * 7) % 24, "valid") for u in range(40)] + [(u, (u + 5) % 24, "test") for u in range(40)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "split"]).drop_duplicates(
        ["user_id", "item_id"]
    )
    return from_frame(frame)


def _features() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {
        "image": rng.normal(size=(24, 8)).astype(np.float32),
        "text": rng.normal(size=(24, 6)).astype(np.float32),
    }


CASES = [
    ("freedom", {"dropout": 0.8, "reg_weight": 1e-3}, True),  # edge pruning draws from torch's RNG
    ("lattice", {"reg_weight": 1e-4, "learning_rate": 5e-3}, True),  # lr schedule, momentum-only steps
    ("lightgcn", {"reg_weight": 1e-4}, False),
    ("vbpr", {}, True),
    ("bm3", {}, True),  # dropout draws from torch's RNG
    ("mgcn", {}, True),
    ("lgmrec", {}, True),
]


def _kill_during_epoch(monkeypatch: pytest.MonkeyPatch, epoch_to_die: int) -> None:
    real = trainer_module._train_epoch

    def dying(model, optimizer, sampler, epoch):  # noqa: ANN001, ANN202
        if epoch == epoch_to_die:
            raise Preempted(f"killed during epoch {epoch}")
        return real(model, optimizer, sampler, epoch)

    monkeypatch.setattr(trainer_module, "_train_epoch", dying)


def _comparable_curve(run: RunResult) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in run.curve]


def _assert_same_run(a: RunResult, b: RunResult) -> None:
    assert _comparable_curve(a) == _comparable_curve(b)
    assert (a.best_epoch, a.epochs_run, a.status) == (b.best_epoch, b.epochs_run, b.status)
    assert a.valid == b.valid and a.test == b.test
    assert np.array_equal(a.test_per_user.users, b.test_per_user.users)
    for key, values in a.test_per_user.per_user.items():
        assert np.array_equal(values, b.test_per_user.per_user[key]), key
    assert a.best_state.keys() == b.best_state.keys()
    for key, value in a.best_state.items():
        assert torch.equal(value, b.best_state[key]), key


@pytest.mark.parametrize(("model", "params", "uses_features"), CASES, ids=[c[0] for c in CASES])
def test_killed_run_resumes_to_the_uninterrupted_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str, params: dict, uses_features: bool
) -> None:
    data, features = _data(), _features() if uses_features else None
    uninterrupted = train_run(model, params, data, features, SETTINGS, seed=7)
    assert uninterrupted.epochs_run == SETTINGS.epochs

    resume = Checkpointing(tmp_path / "run.resume.pt", key="k1")
    with monkeypatch.context() as patch:
        _kill_during_epoch(patch, KILL_AT)
        with pytest.raises(Preempted):
            train_run(model, params, data, features, SETTINGS, seed=7, checkpointing=resume)
    saved = torch.load(resume.path, weights_only=False)
    assert saved["next_epoch"] == KILL_AT and len(saved["result"]["curve"]) == KILL_AT

    trained_epochs: list[int] = []
    real = trainer_module._train_epoch

    def counting(model_, optimizer, sampler, epoch):  # noqa: ANN001, ANN202
        trained_epochs.append(epoch)
        return real(model_, optimizer, sampler, epoch)

    monkeypatch.setattr(trainer_module, "_train_epoch", counting)
    resumed = train_run(model, params, data, features, SETTINGS, seed=7, checkpointing=resume)
    assert trained_epochs == list(range(KILL_AT, SETTINGS.epochs))  # nothing retrained
    _assert_same_run(uninterrupted, resumed)


def test_checkpoint_of_other_inputs_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stale checkpoint (another key: changed params, data or features) restarts at epoch 0."""
    data = _data()
    resume = Checkpointing(tmp_path / "run.resume.pt", key="old")
    with monkeypatch.context() as patch:
        _kill_during_epoch(patch, KILL_AT)
        with pytest.raises(Preempted):
            train_run("lightgcn", {"reg_weight": 1e-4}, data, None, SETTINGS, seed=7, checkpointing=resume)
    fresh = train_run("lightgcn", {"reg_weight": 1e-3}, data, None, SETTINGS, seed=7)
    other = Checkpointing(resume.path, key="new")
    rerun = train_run("lightgcn", {"reg_weight": 1e-3}, data, None, SETTINGS, seed=7, checkpointing=other)
    _assert_same_run(fresh, rerun)


def test_corrupt_checkpoint_restarts_from_scratch(tmp_path: Path) -> None:
    data = _data()
    resume = Checkpointing(tmp_path / "run.resume.pt", key="k")
    resume.path.write_bytes(b"not a checkpoint")
    fresh = train_run("lightgcn", {"reg_weight": 1e-4}, data, None, SETTINGS, seed=7)
    rerun = train_run("lightgcn", {"reg_weight": 1e-4}, data, None, SETTINGS, seed=7, checkpointing=resume)
    _assert_same_run(fresh, rerun)


def test_grid_point_resumes_and_removes_its_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_point (one Snakemake train_point job): killed in the second seed, rerun, same files."""
    data, features = _data(), _features()
    params, point, seeds = {"reg_weight": 1e-3}, {"dropout": 0.8}, [7, 8]
    reference = PointFiles.in_dir(tmp_path / "reference", "p")
    run_point("freedom", params, point, data, features, SETTINGS, seeds, reference)

    out = PointFiles.in_dir(tmp_path / "points", "p")
    calls = {"n": 0}
    real = trainer_module._train_epoch

    def dying_in_second_seed(model, optimizer, sampler, epoch):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == SETTINGS.epochs + KILL_AT + 1:  # seed 8, epoch KILL_AT
            raise Preempted("killed")
        return real(model, optimizer, sampler, epoch)

    with monkeypatch.context() as patch:
        patch.setattr(trainer_module, "_train_epoch", dying_in_second_seed)
        with pytest.raises(Preempted):
            run_point("freedom", params, point, data, features, SETTINGS, seeds, out)
    inputs = RunInputs("freedom", {**params, **point}, data, features, SETTINGS)
    first = resume_checkpoint(out, inputs, 7)
    second = resume_checkpoint(out, inputs, 8)
    assert first.path.is_file() and second.path.is_file() and first.key != second.key
    assert not out.result.exists()  # the point is not complete

    run_point("freedom", params, point, data, features, SETTINGS, seeds, out)
    assert not first.path.exists() and not second.path.exists()
    a, b = read_json(reference.result), read_json(out.result)
    for run_a, run_b in zip(a["runs"], b["runs"], strict=True):
        for key in ("best_epoch", "epochs_run", "valid", "test", "status"):
            assert run_a[key] == run_b[key], key
    curve_a, curve_b = (pd.read_csv(p.curve).drop(columns="seconds") for p in (reference, out))
    pd.testing.assert_frame_equal(curve_a, curve_b)
    pd.testing.assert_frame_equal(pd.read_parquet(reference.per_user), pd.read_parquet(out.per_user))
    for key, value in torch.load(reference.checkpoint).items():
        assert torch.equal(value, torch.load(out.checkpoint)[key]), key
