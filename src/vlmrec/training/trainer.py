"""One training run (one model, one parameter setting, one seed) with MMRec's protocol.

MMRec (``common/trainer.py::fit``), reproduced:
- Adam with weight_decay 0; a LambdaLR whose factor is ``model.lr_lambda(epoch)``, stepped once
  per epoch after training;
- every epoch: ``pre_epoch``, shuffled batches with one negative per positive, then evaluation of
  valid **and** test;
- the best epoch is the one whose validation metric, rounded to ``metric_decimals`` (4, as MMRec's
  evaluator rounds) is strictly greater than every earlier one; the run stops when it has not
  improved for more than ``patience`` evaluations (patience 20 stops at the 21st non-improving
  epoch) or after ``epochs`` epochs;
- the test metrics reported are those of the best-validation epoch (stored at full precision);
- a NaN batch loss stops the run (``stop_on_inf: true`` also stops on ±inf; MMRec trains on); it
  keeps the best epoch so far and records ``status: nan_loss``;
- a model with nothing to train (``requires_training = False``, ItemKNNCBF) is evaluated once, as
  epoch 0 with loss 0, like MMRec's ``req_training: False`` with ``epochs: 1``.
Epochs are numbered from 0, as MMRec logs them.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import torch

from vlmrec.evaluation.metrics import RankingEvaluator, SplitResult, metric_keys, parse_metric_key
from vlmrec.models import registry
from vlmrec.models.base import Recommender
from vlmrec.training import checkpoint as ckpt
from vlmrec.training.data import SplitData
from vlmrec.training.sampler import NegativeSampler
from vlmrec.utils.runtime import resolve_device, seed_everything

log = logging.getLogger(__name__)

DEFAULT_LEARNING_RATE = 1e-3  # MMRec overall.yaml
ZERO_GRAD_MODES = ("zeros", "none")


def round_metric(value: float, decimals: int | None) -> float:
    """MMRec's ``round(value, 4)`` before comparisons (None: unchanged)."""
    if decimals is None or not math.isfinite(value):
        return value
    return round(value, decimals)


@dataclass(frozen=True)
class TrainSettings:
    """The ``training`` config section's keys that change a run's result."""

    epochs: int = 1000
    patience: int = 20
    batch_size: int = 2048
    eval_batch_size: int = 4096
    valid_metric: str = "recall@20"
    topk: tuple[int, ...] = (5, 10, 20, 50)
    mask_valid_at_test: bool = False
    device: str = "auto"
    # training.slices: bucket edges of the evaluation slices (vlmrec.evaluation.slices); None = defaults.
    slices: Mapping[str, Any] | None = None
    # MMRec rounds every metric to 4 decimals before early stopping and the best-epoch choice (and
    # the grid winner, grid.choose_winner); None compares full precision.
    metric_decimals: int | None = 4
    # MMRec stops only on a NaN loss and trains on through ±inf; True stops on any non-finite loss.
    stop_on_inf: bool = False
    # "zeros": torch 1.11's zero_grad() (MMRec's pinned torch) keeps zero tensors, so Adam steps
    # parameters without a gradient in this batch (LATTICE); "none": torch >= 2's set_to_none.
    zero_grad: str = "zeros"

    def __post_init__(self) -> None:
        name, k = parse_metric_key(self.valid_metric)
        if k not in self.topk:
            raise ValueError(f"training.valid_metric '{self.valid_metric}': k={k} is not in training.topk")
        if self.zero_grad not in ZERO_GRAD_MODES:
            raise ValueError(f"training.zero_grad must be one of {ZERO_GRAD_MODES}, got '{self.zero_grad}'")

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> TrainSettings:
        """Pick the known keys from the ``training`` section (others, e.g. seeds, are ignored)."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in config.items() if key in known}
        if "topk" in values:
            values["topk"] = tuple(sorted(int(k) for k in values["topk"]))
        return cls(**values)


class EarlyStopping:
    """MMRec's ``early_stopping``: strict improvement, stop when non-improving count > patience."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best = -math.inf
        self.best_epoch: int | None = None
        self.bad_epochs = 0

    def update(self, value: float, epoch: int) -> bool:
        """Record one evaluation; True when it is a new best."""
        if value > self.best:
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs > self.patience


@dataclass
class RunResult:
    """What one (parameters, seed) run produced."""

    seed: int
    params: dict[str, Any]
    status: str = "ok"
    best_epoch: int | None = None
    epochs_run: int = 0
    valid: dict[str, float] = field(default_factory=dict)
    test: dict[str, float] = field(default_factory=dict)
    test_per_user: SplitResult | None = None
    curve: list[dict[str, float]] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] | None = None
    wall_time_s: float = 0.0
    device: str = "cpu"
    # Test metrics per popularity / activity slice at the best epoch (vlmrec.evaluation.slices).
    slices: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (no per-user vectors, no weights)."""
        return {
            "seed": self.seed,
            "params": self.params,
            "status": self.status,
            "best_epoch": self.best_epoch,
            "epochs_run": self.epochs_run,
            "valid": self.valid,
            "test": self.test,
            "wall_time_s": round(self.wall_time_s, 3),
            "device": self.device,
            "slices": self.slices,
        }


def make_evaluator(data: SplitData, settings: TrainSettings, device: torch.device) -> RankingEvaluator:
    return RankingEvaluator(
        n_items=data.n_items,
        train=(data.train_users, data.train_items),
        targets={"valid": data.split("valid"), "test": data.split("test")},
        topk=settings.topk,
        batch_size=settings.eval_batch_size,
        mask_valid_at_test=settings.mask_valid_at_test,
        device=device,
    )


def evaluate_model(model: Recommender, evaluator: RankingEvaluator) -> dict[str, SplitResult]:
    """Full-ranking evaluation of valid and test with the model's full (unpruned) graph."""
    model.eval()
    model.prepare_eval()
    results = evaluator.evaluate(model.score_users)
    model.train()
    return results


def _to_tensors(features: Mapping[str, np.ndarray] | None, device: torch.device) -> dict[str, torch.Tensor]:
    return {
        name: torch.as_tensor(matrix, dtype=torch.float32, device=device)
        for name, matrix in (features or {}).items()
    }


def _set_determinism(device: torch.device) -> None:
    # Cheap on CPU; on CUDA some sparse kernels have no deterministic variant, so only warn.
    torch.use_deterministic_algorithms(True, warn_only=True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False


def train_run(
    model_name: str,
    params: Mapping[str, Any],
    data: SplitData,
    features: Mapping[str, np.ndarray] | None,
    settings: TrainSettings,
    seed: int,
    evaluator: RankingEvaluator | None = None,
    checkpointing: ckpt.Checkpointing | None = None,
) -> RunResult:
    """Train one model with one parameter setting and one seed; return its best-epoch results.

    With ``checkpointing`` the run saves its state after every epoch and, when a checkpoint with the
    same key exists, continues from it (the caller removes the file once the results are written).
    """
    started = time.perf_counter()
    device = torch.device(resolve_device(settings.device))
    _set_determinism(device)
    seed_everything(seed)
    model_class = registry.get_model_class(model_name)
    model_params = dict(params)
    if model_class.defaults.get("batch_size", 0) is None and model_params.get("batch_size") is None:
        model_params["batch_size"] = settings.batch_size  # MMRec's L2 divisor is train_batch_size
    model = registry.build(
        model_name,
        data.interaction_data(),
        _to_tensors(features, device) if model_class.uses_features else None,
        model_params,
        device,
    )
    if settings.zero_grad == "none":
        model.zero_grads_as_tensors = False  # this run drops absent gradients (torch >= 2 MMRec)
    evaluator = evaluator or make_evaluator(data, settings, device)
    result = RunResult(seed=seed, params=dict(params), device=str(device))
    if not model.requires_training:
        _evaluate_once(model, evaluator, settings, result)
        result.wall_time_s = time.perf_counter() - started
        return result
    learning_rate = float(model.params.get("learning_rate", DEFAULT_LEARNING_RATE))
    optimizer = make_adam(model.parameters(), learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=model.lr_lambda)
    sampler = NegativeSampler(data, settings.batch_size, seed, device)
    stopper = EarlyStopping(settings.patience)
    first_epoch = 0
    parts = ckpt.RunParts(model, optimizer, scheduler, sampler.rng, stopper, result)
    saved = ckpt.load(checkpointing) if checkpointing else None
    if saved is not None:
        first_epoch = ckpt.restore(saved, parts)
        started -= result.wall_time_s
        log.info("seed %d: resuming at epoch %d from %s", seed, first_epoch, checkpointing.path)
    for epoch in range(first_epoch, settings.epochs):
        epoch_start = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        loss = _train_epoch(model, optimizer, sampler, epoch)
        result.epochs_run = epoch + 1
        if loss is None or (settings.stop_on_inf and not math.isfinite(loss)):
            result.status = "nan_loss"
            log.warning(
                "seed %d epoch %d: non-finite loss, stopping (best epoch %s)", seed, epoch, stopper.best_epoch
            )
            break
        scheduler.step()
        evaluated = evaluate_model(model, evaluator)
        valid, test = evaluated["valid"].mean(), evaluated["test"].mean()
        result.curve.append(_curve_row(seed, epoch, loss, lr, valid, test, time.perf_counter() - epoch_start))
        if stopper.update(round_metric(valid[settings.valid_metric], settings.metric_decimals), epoch):
            result.best_epoch, result.valid, result.test = epoch, valid, test
            result.test_per_user = evaluated["test"]
            result.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        log.info(
            "seed %d epoch %d: loss %.4f, valid %s %.4f, test %.4f%s",
            seed, epoch, loss, settings.valid_metric, valid[settings.valid_metric],
            test[settings.valid_metric], " *" if stopper.best_epoch == epoch else "",
        )  # fmt: skip
        if stopper.should_stop:
            log.info("seed %d: early stop at epoch %d (best epoch %d)", seed, epoch, stopper.best_epoch)
            break
        if checkpointing:
            result.wall_time_s = time.perf_counter() - started
            ckpt.save(checkpointing, epoch + 1, parts)
    result.wall_time_s = time.perf_counter() - started
    return result


def _evaluate_once(
    model: Recommender, evaluator: RankingEvaluator, settings: TrainSettings, result: RunResult
) -> None:
    """A model without training: one evaluation, recorded as epoch 0 with loss 0 (MMRec's
    ``req_training: False``, ``epochs: 1``)."""
    epoch_start = time.perf_counter()
    evaluated = evaluate_model(model, evaluator)
    valid, test = evaluated["valid"].mean(), evaluated["test"].mean()
    result.epochs_run, result.best_epoch, result.valid, result.test = 1, 0, valid, test
    result.test_per_user = evaluated["test"]
    result.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    result.curve.append(_curve_row(result.seed, 0, 0.0, 0.0, valid, test, time.perf_counter() - epoch_start))
    metric = settings.valid_metric
    log.info("seed %d: no training; valid %s %.4f", result.seed, metric, valid[metric])


def _fused_adam_supported(params: Sequence[torch.Tensor]) -> bool:
    """Fused Adam needs dense floating-point tensors on CPU or CUDA (one device type for all)."""
    devices = {p.device.type for p in params}
    return (
        bool(params)
        and len(devices) == 1
        and devices <= {"cpu", "cuda"}
        and all(p.is_floating_point() and p.layout == torch.strided for p in params)
    )


def make_adam(params: Iterable[torch.Tensor], learning_rate: float) -> torch.optim.Adam:
    """MMRec's Adam (weight_decay 0), with the fused kernel where it applies.

    The fused kernel does one pass per step instead of ~10 elementwise ops per parameter (about 10x
    faster for FREEDOM/LATTICE's trainable raw-feature tables on CPU). It is deterministic, but its
    rounding differs from the for-loop kernel in the last bits (docs/training.md, deliberate
    differences). Anything it does not support falls back to torch's default implementation.
    """
    params = list(params)
    fused = _fused_adam_supported(params)
    return torch.optim.Adam(params, lr=learning_rate, weight_decay=0.0, fused=fused or None)


def _train_epoch(
    model: Recommender, optimizer: torch.optim.Optimizer, sampler: NegativeSampler, epoch: int
) -> float | None:
    """One epoch; the sum of per-batch mean losses (MMRec's logged value), None on a NaN loss.

    A ±inf loss is trained through as MMRec does (the sum is then inf; ``train_run`` stops after the
    epoch when ``training.stop_on_inf`` is set: the epoch is not evaluated, so the result is the same
    as stopping at the batch).
    """
    model.train()
    model.pre_epoch(epoch)
    total = 0.0
    for batch_index, (users, pos, neg) in enumerate(sampler.epoch()):
        # MMRec ran on torch 1.11, whose zero_grad() leaves zero tensors rather than None. Adam then
        # still steps every parameter that ever had a gradient: LATTICE's projections, raw features
        # and modal_weight (gradient only on an epoch's first batch) keep moving on momentum in the
        # later batches. set_to_none=True (torch >= 2.0 default) would skip them. Parameters that
        # never get a gradient (FREEDOM's modality branch at reg_weight 0) keep grad None either way,
        # and a parameter with a gradient every batch gets the same values (0 + g == g exactly), so
        # models where that holds for every parameter opt out (Recommender.zero_grads_as_tensors).
        # training.zero_grad: none reproduces a torch >= 2 MMRec instead (train_run sets the flag).
        optimizer.zero_grad(set_to_none=not model.zero_grads_as_tensors)
        loss = model.loss(users, pos, neg, batch_index)
        if torch.isnan(loss).any():
            return None
        loss.backward()
        optimizer.step()
        total += float(loss.detach().sum())
    return total


def _curve_row(
    seed: int,
    epoch: int,
    loss: float,
    lr: float,
    valid: Mapping[str, float],
    test: Mapping[str, float],
    seconds: float,
) -> dict[str, float]:
    row: dict[str, float] = {"seed": seed, "epoch": epoch, "loss": loss, "lr": lr}
    row.update({f"valid_{key}": value for key, value in valid.items()})
    row.update({f"test_{key}": value for key, value in test.items()})
    row["seconds"] = round(seconds, 4)
    return row


def curve_columns(topk: Sequence[int]) -> list[str]:
    keys = metric_keys(topk)
    return [
        "seed",
        "epoch",
        "loss",
        "lr",
        *(f"valid_{k}" for k in keys),
        *(f"test_{k}" for k in keys),
        "seconds",
    ]
