"""The encoder factory: (kind, settings) -> an Encoder. Heavy imports happen here, lazily.

Kinds: the module strategies' `vlm2vec`, `resnet`, `text`, `mmrec_text` (settings from the
historical features.* sections) and the `features.encoders.<name>.kind` values of declared
strategies: vlm2vec, clip, siglip, blip, hf_image, hf_text, sentence_transformers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vlmrec.features.base import Encoder
from vlmrec.features.specs import ENCODER_KINDS

# features.encoders keys that are not constructor arguments: `image_size` is applied by the
# runner's image workers for every kind but VLM2Vec (whose encoder also sets its pixel bounds).
RUNNER_ONLY = ("image_size",)


def default_encoder_factory(kind: str, settings: Mapping[str, Any]) -> Encoder:
    """Build the real encoder for `kind` (imported lazily: torch/transformers are heavy)."""
    settings = dict(settings)
    if kind == "vlm2vec":
        from vlmrec.features.vlm2vec import VLM2VecEncoder

        if "max_length" in settings:  # features.encoders spelling -> VLM2VecEncoder's
            settings["max_text_length"] = settings.pop("max_length")
        settings.pop("pooling", None)  # VLM2Vec always pools the last token
        return VLM2VecEncoder(**settings)
    if kind == "resnet":
        from vlmrec.features.baselines import ResNetImageEncoder

        return ResNetImageEncoder(**settings)
    if kind in ("text", "mmrec_text", "hf_text"):
        from vlmrec.features.baselines import HFTextEncoder

        if kind == "hf_text":
            from vlmrec.features.model_loading import refuse_remote_code, resolve_model_path

            refuse_remote_code(resolve_model_path(settings["model"]), settings.get("revision"))
        _drop(settings)
        return HFTextEncoder(**settings)
    if kind in ("clip", "siglip", "blip"):
        from vlmrec.features.contrastive import ContrastiveEncoder

        _drop(settings)
        settings.pop("pooling", None)  # the model's own feature heads decide
        return ContrastiveEncoder(kind=kind, **settings)
    if kind == "hf_image":
        from vlmrec.features.baselines import HFImageEncoder

        _drop(settings)
        settings.pop("max_length", None)
        return HFImageEncoder(**settings)
    if kind == "sentence_transformers":
        from vlmrec.features.baselines import SentenceTransformersEncoder

        _drop(settings)
        settings.pop("pooling", None)  # the model's Pooling module decides
        return SentenceTransformersEncoder(**settings)
    raise ValueError(f"unknown encoder kind {kind!r}; known: {', '.join(ENCODER_KINDS)}, resnet, text")


def _drop(settings: dict[str, Any]) -> None:
    for key in RUNNER_ONLY:
        settings.pop(key, None)
