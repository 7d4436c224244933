"""Per-epoch resume checkpoints of one training run (preemption-safe training).

A preempted 12-hour training job must not restart at epoch 0. After every epoch the trainer
writes, atomically, everything the next epoch depends on:

- the model's, optimiser's and scheduler's state dicts;
- every random stream a later epoch draws from: torch's CPU (and CUDA) generator (FREEDOM's edge
  pruning), the sampler's numpy Generator (shuffles and negatives), numpy's and python's global
  generators (cheap, in case a model uses them);
- the early-stopping state and the run's results so far (best epoch, its metrics, per-user test
  vectors and weights, the curve, epochs run, wall time).

A rerun of the same run restores it and continues with the next epoch, so on CPU its metrics and
curve equal an uninterrupted run's exactly (tests/models/test_resume.py). The file carries a key,
a hash of the model name, parameters, training settings, seed and the content of the data and
features (the caller computes it): a checkpoint of another run, or of changed inputs, is ignored
and overwritten. The caller removes it once the run's results are written.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vlmrec.utils.io import atomic_path

log = logging.getLogger(__name__)

# RunResult's fields that a resumed run continues from (seed, params and device are the caller's).
RESULT_FIELDS = (
    "status",
    "best_epoch",
    "epochs_run",
    "valid",
    "test",
    "test_per_user",
    "curve",
    "best_state",
    "wall_time_s",
)


@dataclass(frozen=True)
class Checkpointing:
    """Where a run keeps its resume file, and the content key that makes the file valid."""

    path: Path
    key: str

    def remove(self) -> None:
        """Delete the resume file (the run finished and its results are written)."""
        self.path.unlink(missing_ok=True)


def _rng_states(sampler_rng: np.random.Generator) -> dict[str, Any]:
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy_global": np.random.get_state(),
        "python": random.getstate(),
        "sampler": sampler_rng.bit_generator.state,
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _restore_rng(states: dict[str, Any], sampler_rng: np.random.Generator) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy_global"])
    random.setstate(states["python"])
    sampler_rng.bit_generator.state = states["sampler"]
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


@dataclass(frozen=True)
class RunParts:
    """The live objects of one run whose state a checkpoint holds (and restores in place)."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    sampler_rng: np.random.Generator
    stopper: Any
    result: Any


def save(checkpointing: Checkpointing, next_epoch: int, run: RunParts) -> None:
    """Write the state after an epoch; `next_epoch` is the epoch a resumed run starts with."""
    state = {
        "key": checkpointing.key,
        "next_epoch": next_epoch,
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "rng": _rng_states(run.sampler_rng),
        "stopper": dict(vars(run.stopper)),
        "result": {name: getattr(run.result, name) for name in RESULT_FIELDS},
    }
    with atomic_path(checkpointing.path) as tmp:
        torch.save(state, tmp)


def load(checkpointing: Checkpointing) -> dict[str, Any] | None:
    """The saved state when the file exists, reads and carries this run's key; else None."""
    path = checkpointing.path
    if not path.is_file():
        return None
    try:
        # Our own file (a pickle of numpy/python RNG states and the run's results), not a download.
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file means: start from epoch 0
        log.warning("%s: unreadable resume checkpoint ignored (%s)", path, exc)
        return None
    if not isinstance(state, dict) or state.get("key") != checkpointing.key:
        log.info("%s: resume checkpoint of other inputs or settings ignored", path)
        return None
    return state


def restore(state: dict[str, Any], run: RunParts) -> int:
    """Put a loaded state back into a freshly built run; returns the epoch to continue with."""
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    vars(run.stopper).update(state["stopper"])
    for name, value in state["result"].items():
        setattr(run.result, name, value)
    # Last: building the model and loading states must not shift the restored streams.
    _restore_rng(state["rng"], run.sampler_rng)
    return int(state["next_epoch"])
