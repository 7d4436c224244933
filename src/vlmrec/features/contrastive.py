"""Dual encoders with one image-text space: CLIP, SigLIP / SigLIP 2, BLIP (retrieval model).

Each input is an image OR a text; images go through the image tower, texts through the text tower,
and the vectors are those of the library's own feature calls:

- `clip`: `CLIPModel.get_image_features` / `get_text_features` (projected, then L2-normalised
  when `normalize`, the default). Texts are padded to the longest of the batch: CLIP's causal text
  tower pools at the first EOS token, so padding never changes a row.
- `siglip`: `SiglipModel` (SigLIP and the fixed-resolution SigLIP 2 checkpoints such as
  `google/siglip2-so400m-patch14-384`) or `Siglip2Model` (NaFlex), `get_image_features` /
  `get_text_features`. Texts are ALWAYS padded to `max_length` (default the text tower's 64
  positions), as SigLIP was trained and as its model card calls it: the text tower pools the last
  position, so padding to the longest of a batch would make a vector depend on its neighbours.
  The tokenizer's outputs (input_ids, and attention_mask when it returns one) are passed as is.
- `blip`: `BlipForImageTextRetrieval`'s contrastive (ITC) features, as its forward computes them
  with `use_itm_head=False`: `normalize(vision_proj(vision_model(pixels)[0][:, 0]))` and
  `normalize(text_proj(text_encoder(ids, mask)[0][:, 0]))`; their dot products are its itm_score.

Processors: AutoTokenizer and the slow AutoImageProcessor (the fast ones need torchvision).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from PIL import Image

from vlmrec.features.base import EncoderInput
from vlmrec.features.model_loading import LoadedEncoder

log = logging.getLogger(__name__)

# kind -> model types it accepts (config.json's model_type).
MODEL_TYPES = {"clip": ("clip",), "siglip": ("siglip", "siglip2"), "blip": ("blip",)}


class ContrastiveEncoder(LoadedEncoder):
    """Image or text vectors of a CLIP / SigLIP / BLIP checkpoint (hub id or local dir)."""

    def __init__(
        self,
        model: str,
        *,
        kind: str,
        revision: str | None = None,
        dtype: str = "float32",
        max_length: int | None = None,
        normalize: bool = True,
        batch_size: int = 32,
        device: str = "auto",
        name: str | None = None,
    ) -> None:
        from transformers import AutoConfig, AutoImageProcessor, AutoTokenizer

        if kind not in MODEL_TYPES:
            raise ValueError(
                f"contrastive encoder kind must be one of {', '.join(MODEL_TYPES)}, not {kind!r}"
            )
        self.kind = kind
        self._resolve(
            model, name=name or kind, revision=revision, batch_size=batch_size, device=device, dtype=dtype
        )
        config = AutoConfig.from_pretrained(self.model_path, revision=revision, trust_remote_code=False)
        if config.model_type not in MODEL_TYPES[kind]:
            raise ValueError(
                f"model {model} is a {config.model_type!r} model; kind {kind} takes {MODEL_TYPES[kind]}"
            )
        self.normalize = True if kind == "blip" else normalize  # BLIP's ITC features are normalised
        self.tokenizer = AutoTokenizer.from_pretrained(
            self.model_path, revision=revision, trust_remote_code=False
        )
        self.image_processor = AutoImageProcessor.from_pretrained(
            self.model_path, revision=revision, use_fast=False, trust_remote_code=False
        )
        self.model = self._load_model(config).eval().to(self.device)
        positions = int(config.text_config.max_position_embeddings)
        self.max_length = int(max_length or min(positions, _tokenizer_limit(self.tokenizer, positions)))
        if self.max_length > positions:
            raise ValueError(f"max_length {self.max_length} exceeds the text tower's {positions} positions")
        self.padding = "max_length" if kind == "siglip" else "longest"
        self.dim = self._dim(config)

    def _load_model(self, config: Any) -> Any:
        from transformers import AutoModel, BlipForImageTextRetrieval, CLIPModel

        cls = {"clip": CLIPModel, "siglip": AutoModel, "blip": BlipForImageTextRetrieval}[self.kind]
        return cls.from_pretrained(
            self.model_path, revision=self.revision, torch_dtype=self.torch_dtype, trust_remote_code=False
        )

    def _dim(self, config: Any) -> int:
        if self.kind == "clip":
            return int(config.projection_dim)
        if self.kind == "blip":
            return int(config.image_text_hidden_size)
        return int(config.text_config.hidden_size)  # SigLIP's towers share their width

    # ------------------------------------------------------------------ inputs
    def text_inputs(self, texts: list[str]) -> dict[str, Any]:
        enc = self.tokenizer(
            texts, padding=self.padding, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        return {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}

    def image_inputs(self, images: list[Image.Image]) -> dict[str, Any]:
        enc = self.image_processor(images=[im.convert("RGB") for im in images], return_tensors="pt")
        out = {k: v.to(self.device) for k, v in enc.items()}
        out["pixel_values"] = out["pixel_values"].to(self.torch_dtype)
        return out

    def token_length(self, item: EncoderInput) -> int:
        """Text tokens (images: 1); the runner sorts batches by it."""
        if item.image is not None:
            return 1
        return len(self.tokenizer(item.text or "", truncation=True, max_length=self.max_length)["input_ids"])

    # ------------------------------------------------------------------ features
    def text_features(self, texts: list[str]) -> Any:
        inputs = self.text_inputs(texts)
        if self.kind == "blip":
            hidden = self.model.text_encoder(**inputs, return_dict=True).last_hidden_state
            return self.model.text_proj(hidden[:, 0, :])
        return self.model.get_text_features(**inputs)

    def image_features(self, images: list[Image.Image]) -> Any:
        inputs = self.image_inputs(images)
        if self.kind == "blip":
            hidden = self.model.vision_model(pixel_values=inputs["pixel_values"], return_dict=True)[0]
            return self.model.vision_proj(hidden[:, 0, :])
        return self.model.get_image_features(**inputs)

    def encode_batch(self, batch: list[EncoderInput]) -> np.ndarray:
        """Rows with an image -> image features, rows without -> text features (input order)."""
        import torch
        import torch.nn.functional as F

        both = [i for i, item in enumerate(batch) if item.image is not None and item.text]
        if both:
            raise ValueError(f"{self.kind} inputs {both} carry an image and a text; a dual encoder takes one")
        out = np.zeros((len(batch), self.dim), dtype=np.float32)
        groups = {
            "image": [i for i, item in enumerate(batch) if item.image is not None],
            "text": [i for i, item in enumerate(batch) if item.image is None],
        }
        with torch.inference_mode():
            for modality, rows in groups.items():
                for start in range(0, len(rows), self.batch_size):
                    chunk = rows[start : start + self.batch_size]
                    if modality == "image":
                        reps = self.image_features([batch[i].image for i in chunk])  # type: ignore[misc]
                    else:
                        reps = self.text_features([batch[i].text or "" for i in chunk])
                    reps = reps.float()
                    if self.normalize:
                        reps = F.normalize(reps, p=2, dim=-1)
                    out[chunk] = reps.cpu().numpy()
        return out

    def describe(self) -> dict[str, Any]:
        fields = self._describe(
            normalize=self.normalize, max_length=self.max_length, text_padding=self.padding
        )
        return {"kind": self.kind, **fields}


def _tokenizer_limit(tokenizer: Any, fallback: int) -> int:
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if isinstance(limit, int) and 0 < limit < 1_000_000 else fallback
