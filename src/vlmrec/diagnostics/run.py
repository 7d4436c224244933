"""Feature diagnostics of one (dataset, feature set): every modality's measures in one JSON.

``diagnose`` reads the data stage's interactions (training split only) and one feature set and
computes, per modality, the measures of :mod:`vlmrec.diagnostics.measures`; a two-modality set
(image + text) also gets a ``joint`` row: the concatenation of the L2-normalised modalities, whose
cosine is the mean of the two modalities' cosines (what a model mixing both graphs sees). Where
image and text come from one model with one dimension, the cross-modal agreement is added.
``vlmrec.diagnostics.table.collect`` turns the JSON files into the tidy ``results/diagnostics.csv``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from vlmrec.diagnostics import measures
from vlmrec.diagnostics.measures import DiagnosticSettings
from vlmrec.training.data import load_features, load_interactions
from vlmrec.utils.io import read_json, write_json

log = logging.getLogger(__name__)

JOINT = "joint"


def encoder_models(manifest: Mapping[str, Any]) -> set[str]:
    """The distinct models behind a feature set's modalities, as far as its manifest tells."""
    if isinstance(manifest.get("models"), Mapping):
        return {str(v) for v in manifest["models"].values()}
    encoders = manifest.get("encoders")
    if isinstance(encoders, Mapping):
        return {str(e.get("model")) for e in encoders.values() if isinstance(e, Mapping)}
    model = manifest.get("model")
    return {part.strip() for part in str(model).split(" + ")} if model else set()


def cross_modal_reason(features: Mapping[str, np.ndarray], manifest: Mapping[str, Any]) -> str | None:
    """None when the image~text agreement is meaningful, else why it is skipped."""
    if set(features) != {"image", "text"}:
        return "needs exactly an image and a text modality"
    if features["image"].shape[1] != features["text"].shape[1]:
        return "image and text have different dimensions (different encoders, different spaces)"
    if len(encoder_models(manifest)) != 1:
        return "image and text come from different models (different spaces)"
    return None


def joint_matrix(features: Mapping[str, np.ndarray]) -> np.ndarray:
    """concat(unit(image), unit(text)) / sqrt(2): its cosine is the mean of the two cosines."""
    parts = [measures._unit_rows(features[name]) for name in sorted(features)]
    return np.concatenate(parts, axis=1) / np.sqrt(len(parts))


def diagnose_features(
    features: Mapping[str, np.ndarray],
    train: tuple[np.ndarray, np.ndarray],
    n_items: int,
    settings: DiagnosticSettings,
    manifest: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Measures per modality (and the joint one), plus the cross-modal block."""
    matrix = measures.co_interaction_matrix(train[0], train[1], n_items)
    behaviour = measures.co_interaction_knn(matrix, settings.k, settings.block_rows)
    matrices = dict(features)
    if len(features) == 2:
        matrices[JOINT] = joint_matrix(features)
    pairs = measures.agreement_pairs(matrix, settings)
    modalities = {}
    for name, x in matrices.items():
        started = time.perf_counter()
        values, indices, cosines = measures.feature_knn_with_pairs(
            x, settings.k, pairs, settings.block_rows, settings.dtype
        )
        geometry, _ = measures.geometry(x, settings, (values, indices))
        agreement = measures.behaviour_agreement(x, indices, matrix, behaviour, settings, (pairs, cosines))
        modalities[name] = {"dim": int(x.shape[1]), **agreement, **geometry}
        log.info("%s: %s (%.1f s)", name, modalities[name], time.perf_counter() - started)
    reason = cross_modal_reason(features, manifest or {})
    cross = measures.cross_modal(features["image"], features["text"], settings) if reason is None else {}
    return {
        "modalities": modalities,
        "cross_modal": cross,
        "cross_modal_skipped": reason,
    }


def diagnose(
    interactions: str | Path,
    feature_dir: str | Path,
    out: str | Path,
    settings: DiagnosticSettings,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One feature set's diagnostics JSON (``results/<ds>/diagnostics/<strategy>.json``)."""
    started = time.perf_counter()
    data = load_interactions(interactions)
    features = load_features(feature_dir, data.n_items)
    manifest = read_json(Path(feature_dir) / "manifest.json")
    train = data.interaction_data()
    result = {
        **dict(meta or {}),
        "n_items": data.n_items,
        "n_train_pairs": int(len(train.train_users)),
        "k": settings.k,
        "n_pairs": settings.n_pairs,
        "seed": settings.seed,
        "duplicate_cosine": settings.duplicate_cosine,
        **diagnose_features(
            features, (train.train_users, train.train_items), data.n_items, settings, manifest
        ),
    }
    result["wall_time_s"] = round(time.perf_counter() - started, 3)
    write_json(out, result)
    return result
