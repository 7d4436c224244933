"""VLM2Vec embeddings (Qwen2-VL backbone), computed exactly as TIGER-AI-Lab/VLM2Vec does.

What "exactly" means here (see docs/features_models.md):
- prompts are raw text: no chat template, no <|vision_start|>/<|vision_end|>, no EOS appended; an
  image enters as one `<|image_pad|>` placeholder expanded to grid_t*grid_h*grid_w/merge_size**2
  copies (what the processor does), built here from the tokenizer and Qwen2VLImageProcessor so
  neither Qwen2VLProcessor nor torchvision is needed;
- position ids are plain sequential positions over the non-padding tokens, image tokens included
  (VLM2Vec's prompts have no <|vision_start|>, so its Qwen2-VL never builds 3-D M-RoPE positions);
  they are computed here and passed in, so newer transformers releases cannot change them;
- the embedding is the final-norm hidden state at the last non-padding token, L2-normalised.
- VLM2Vec-V2.0 is a LoRA on Qwen2-VL-2B-Instruct: base loaded, adapter merged with peft.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from vlmrec.features.base import EncoderInput
from vlmrec.features.model_loading import (
    AdapterRef,
    base_model_of,
    dtype_name,
    library_versions,
    read_adapter_config,
    resolve_attn_implementation,
    resolve_device,
    resolve_dtype,
    resolve_model_path,
    split_adapter,
)

log = logging.getLogger(__name__)

IMAGE_TOKEN = "<|image_pad|>"
# VLM2Vec's DataArguments bounds for the image processor (not the checkpoint's own values).
VLM2VEC_MIN_PIXELS = 28 * 28 * 4
VLM2VEC_MAX_PIXELS = 28 * 28 * 1280
# VLM2Vec resizes images with a side under 28 px to 56x56 before processing.
MIN_IMAGE_SIDE = 28
SMALL_IMAGE_SIZE = 56
DEFAULT_MODEL = "VLM2Vec/VLM2Vec-V2.0"


@dataclass
class BatchInputs:
    """Model inputs for one forward pass (tensors on CPU until `to_device`)."""

    input_ids: Any  # LongTensor [b, L]
    attention_mask: Any  # LongTensor [b, L]
    position_ids: Any  # LongTensor [3, b, L] (M-RoPE's t/h/w rows, all equal under VLM2Vec's rule)
    pixel_values: Any | None  # FloatTensor [sum_i t*h*w, 3*2*14*14]
    image_grid_thw: Any | None  # LongTensor [n_images, 3]


def sequential_position_ids(attention_mask: Any) -> Any:
    """VLM2Vec's positions: 0..n-1 over the real tokens of each row (image tokens included),
    1 on padding (as transformers 4.x writes there; padding never influences real tokens)."""
    pos = attention_mask.long().cumsum(-1) - 1
    pos.masked_fill_(attention_mask == 0, 1)
    return pos.unsqueeze(0).expand(3, -1, -1).contiguous()


def last_token_pool(hidden: Any, attention_mask: Any) -> Any:
    """VLM2Vec's `_pooling('last'/'eos')` then L2 norm, in float32.

    Position -1 when every row ends with a real token (left padding or none), else the index
    mask.sum(1) - 1 (right padding); both give the same vector for the same row.
    """
    import torch
    import torch.nn.functional as F

    batch = attention_mask.shape[0]
    if int(attention_mask[:, -1].sum()) == batch:
        reps = hidden[:, -1, :]
    else:
        last = attention_mask.sum(dim=1) - 1
        reps = hidden[torch.arange(batch, device=hidden.device), last]
    return F.normalize(reps.float(), p=2, dim=-1)


class VLM2VecEncoder:
    """Encoder (see base.py) for VLM2Vec checkpoints on a Qwen2-VL backbone.

    model: hub id or local dir of a Qwen2-VL model, or of a LoRA adapter whose adapter_config.json
        names its base (`VLM2Vec/VLM2Vec-V2.0` -> base Qwen/Qwen2-VL-2B-Instruct + that adapter);
        `package:<pkg>` is accepted as well.
    adapter: hub id or local dir of a LoRA adapter merged into `model` (None: none, unless `model`
        itself is an adapter). `owner/repo/sub` or `adapter_subfolder` select a subfolder
        (TIGER-Lab/VLM2Vec-Qwen2VL-7B keeps its adapter in `lora/`).
    dtype: auto (bf16 on CUDA, fp32 on CPU) | float32 | bfloat16 | float16.
    attn_implementation: sdpa | eager | flash_attention_2 | auto (flash-attn when installed on CUDA).
    image_size: images are resized to image_size x image_size (the paper: 224, 64 image tokens) and
        kept at that size by the image processor; None keeps VLM2Vec's own pixel bounds.
    max_text_length: at most this many prompt tokens before image expansion (right truncation).
    padding_side: left (default) or right; the embeddings are the same either way.
    merge_adapter: False keeps peft's unmerged LoRA layers (tests compare the two).
    vision_chunk_patches: images per vision-tower call are grouped up to this many 14x14 patches
        (a 224x224 image has 256) under sdpa/eager; None = auto (256 on CPU, where the dense mask
        dominates; 2048 on CUDA, where bigger matmuls win). Unused with flash-attention.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        adapter: str | None = None,
        *,
        revision: str | None = None,
        adapter_revision: str | None = None,
        adapter_subfolder: str | None = None,
        dtype: str = "auto",
        attn_implementation: str = "sdpa",
        image_size: int | None = 224,
        batch_size: int = 32,
        max_text_length: int = 512,
        device: str = "auto",
        padding_side: str = "left",
        merge_adapter: bool = True,
        vision_chunk_patches: int | None = None,
        name: str = "vlm2vec",
    ) -> None:
        if padding_side not in {"left", "right"}:
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        if image_size is not None and image_size < MIN_IMAGE_SIDE:
            raise ValueError(f"features.vlm2vec.image_size must be >= {MIN_IMAGE_SIDE}, got {image_size}")
        if batch_size < 1 or max_text_length < 1:
            raise ValueError("features.vlm2vec.batch_size and max_text_length must be >= 1")
        self.name = name
        self.device = resolve_device(device)
        self.torch_dtype = resolve_dtype(dtype, self.device)
        self.attn_implementation = resolve_attn_implementation(attn_implementation, self.device)
        self.image_size = image_size
        self.batch_size = batch_size
        self.max_text_length = max_text_length
        self.padding_side = padding_side
        # flash-attention's vision path is linear in the batch; sdpa/eager need groups (see encode_images).
        self.vision_chunk_patches = _vision_chunk(vision_chunk_patches, self.attn_implementation, self.device)
        self.model_path, self.revision, self.adapter_ref = _resolve_model_and_adapter(
            resolve_model_path(model), revision, adapter, adapter_subfolder, adapter_revision
        )
        self.tokenizer, self.image_processor = self._load_processors()
        self.model = self._load_model(merge_adapter)
        cfg = self.model.config
        self.image_token_id = int(cfg.image_token_id)
        self.merge_size = int(self.image_processor.merge_size)
        self.dim = int(getattr(cfg, "hidden_size", None) or cfg.text_config.hidden_size)
        self.pad_token_id = self._pad_token_id()

    # ----------------------------------------------------------------------------------- loading
    def _load_processors(self) -> tuple[Any, Any]:
        from transformers import AutoTokenizer, Qwen2VLImageProcessor

        kwargs = {"revision": self.revision}
        tokenizer = AutoTokenizer.from_pretrained(self.model_path, **kwargs)
        # The slow (PIL/numpy) image processor: the fast one needs torchvision.
        image_processor = Qwen2VLImageProcessor.from_pretrained(self.model_path, **kwargs)
        if IMAGE_TOKEN not in tokenizer.get_vocab():
            raise ValueError(f"model {self.model_path}: tokenizer has no {IMAGE_TOKEN} token (not Qwen2-VL?)")
        return tokenizer, image_processor

    def _load_model(self, merge_adapter: bool) -> Any:
        from transformers import Qwen2VLForConditionalGeneration

        log.info(
            "loading %s (revision %s, %s, %s) adapter=%s",
            self.model_path,
            self.revision,
            dtype_name(self.torch_dtype),
            self.attn_implementation,
            self.adapter_ref,
        )
        model = Qwen2VLForConditionalGeneration.from_pretrained(
            self.model_path,
            revision=self.revision,
            torch_dtype=self.torch_dtype,
            attn_implementation=self.attn_implementation,
            low_cpu_mem_usage=True,
        )
        if self.adapter_ref is not None:
            model = _apply_adapter(model, self.adapter_ref, merge_adapter)
        return model.eval().to(self.device)

    def _pad_token_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        if pad is None:  # Qwen2 tokenizers pad with <|endoftext|>
            pad = self.tokenizer.convert_tokens_to_ids("<|endoftext|>")
        return int(pad)

    # ------------------------------------------------------------------------------------ inputs
    def prompt_of(self, item: EncoderInput) -> str:
        """The prompt text of an input: an image without text is encoded as `<|image_pad|>` alone
        (VLM2Vec's image-only form); the placeholder count must match the image count."""
        text = item.text if item.text is not None else (IMAGE_TOKEN if item.image is not None else None)
        if text is None:
            raise ValueError("VLM2Vec input has neither text nor image")
        n_placeholders = text.count(IMAGE_TOKEN)
        expected = 0 if item.image is None else 1
        if n_placeholders != expected:
            raise ValueError(
                f"VLM2Vec prompt has {n_placeholders} {IMAGE_TOKEN} placeholder(s) but the input has "
                f"{expected} image(s): {text[:120]!r}"
            )
        return text

    def prompt_token_ids(self, item: EncoderInput) -> list[int]:
        """Token ids before image expansion (the placeholder is one id), truncated to max_text_length."""
        ids = list(self.tokenizer(self.prompt_of(item))["input_ids"])
        if len(ids) > self.max_text_length:
            ids = ids[: self.max_text_length]
            if item.image is not None and self.image_token_id not in ids:
                raise ValueError(
                    f"features.vlm2vec.max_text_length={self.max_text_length} cuts the image placeholder "
                    "out of the prompt; raise it"
                )
        if not ids:
            raise ValueError("VLM2Vec input tokenizes to zero tokens (empty text)")
        return ids

    def prepare_image(self, image: Image.Image) -> Image.Image:
        """RGB; resized to image_size x image_size (paper) or, without image_size, small images to
        56x56 as VLM2Vec does."""
        image = image.convert("RGB")
        if self.image_size is not None:
            if image.size != (self.image_size, self.image_size):
                image = image.resize((self.image_size, self.image_size), Image.Resampling.BICUBIC)
        elif min(image.size) < MIN_IMAGE_SIDE:
            image = image.resize((SMALL_IMAGE_SIZE, SMALL_IMAGE_SIZE), Image.Resampling.BICUBIC)
        return image

    def _pixel_bounds(self) -> tuple[int, int]:
        """Pixel bounds that keep an image_size x image_size image as it is (image_size multiple of 28;
        otherwise smart_resize rounds it to the nearest multiple), else VLM2Vec's bounds."""
        if self.image_size is None:
            return VLM2VEC_MIN_PIXELS, VLM2VEC_MAX_PIXELS
        area = self.image_size * self.image_size
        return min(VLM2VEC_MIN_PIXELS, area), max(VLM2VEC_MAX_PIXELS, 4 * area)

    def image_grid(self, image: Image.Image) -> tuple[int, int, int]:
        """(t, h, w) patch grid the image processor will produce for this image (no pixel work)."""
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

        w, h = self.prepare_image_size(image)
        lo, hi = self._pixel_bounds()
        patch = int(self.image_processor.patch_size)
        rh, rw = smart_resize(h, w, factor=patch * self.merge_size, min_pixels=lo, max_pixels=hi)
        return 1, rh // patch, rw // patch

    def prepare_image_size(self, image: Image.Image) -> tuple[int, int]:
        """(width, height) of `prepare_image(image)` without resizing pixels."""
        if self.image_size is not None:
            return self.image_size, self.image_size
        if min(image.size) < MIN_IMAGE_SIDE:
            return SMALL_IMAGE_SIZE, SMALL_IMAGE_SIZE
        return image.size

    def n_image_tokens(self, grid_thw: tuple[int, int, int]) -> int:
        t, h, w = grid_thw
        return t * h * w // (self.merge_size**2)

    def token_length(self, item: EncoderInput) -> int:
        """Sequence length of `item` after image expansion: the runner sorts batches by it."""
        n = len(self.prompt_token_ids(item))
        if item.image is not None:
            n += self.n_image_tokens(self.image_grid(item.image)) - 1
        return n

    def build_inputs(self, batch: list[EncoderInput]) -> BatchInputs:
        """Tokenise, process images, expand each placeholder to its grid's token count, pad."""
        import torch

        images = [self.prepare_image(it.image) for it in batch if it.image is not None]
        pixel_values = grid_thw = None
        if images:
            lo, hi = self._pixel_bounds()
            out = self.image_processor.preprocess(
                images,
                size={"shortest_edge": lo, "longest_edge": hi},
                min_pixels=lo,
                max_pixels=hi,
                return_tensors="pt",
            )
            pixel_values, grid_thw = out["pixel_values"], out["image_grid_thw"]
        rows: list[list[int]] = []
        image_index = 0
        for item in batch:
            ids = self.prompt_token_ids(item)
            if item.image is not None:
                grid = tuple(int(v) for v in grid_thw[image_index])
                image_index += 1
                ids = expand_image_tokens(ids, self.image_token_id, self.n_image_tokens(grid))
            rows.append(ids)
        input_ids, attention_mask = pad_rows(rows, self.pad_token_id, self.padding_side)
        return BatchInputs(
            input_ids=torch.tensor(input_ids, dtype=torch.long),
            attention_mask=torch.tensor(attention_mask, dtype=torch.long),
            position_ids=sequential_position_ids(torch.tensor(attention_mask, dtype=torch.long)),
            pixel_values=pixel_values,
            image_grid_thw=grid_thw,
        )

    # ----------------------------------------------------------------------------------- forward
    def encode_batch(self, batch: list[EncoderInput]) -> np.ndarray:
        """float32 [len(batch), dim], unit rows; split into forward passes of at most batch_size."""
        if not batch:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self._encode(batch[i : i + self.batch_size]) for i in range(0, len(batch), self.batch_size)]
        return np.concatenate(parts, axis=0)

    def _encode(self, batch: list[EncoderInput]) -> np.ndarray:
        import torch

        inputs = self.build_inputs(batch)
        with torch.inference_mode():
            hidden = self.last_hidden_state(inputs)
            reps = last_token_pool(hidden, inputs.attention_mask.to(hidden.device))
        return reps.cpu().numpy().astype(np.float32, copy=False)

    def last_hidden_state(self, inputs: BatchInputs) -> Any:
        """Final-norm hidden states [b, L, dim] (= VLM2Vec's hidden_states[-1]), computed without
        the LM head (a [b, L, 152k] logits tensor is never built)."""
        visual, decoder = _model_parts(self.model)
        input_ids = inputs.input_ids.to(self.device)
        embeds = self.model.get_input_embeddings()(input_ids)
        if inputs.pixel_values is not None:
            image_embeds = self.encode_images(inputs.pixel_values, inputs.image_grid_thw)
            mask = input_ids == self.image_token_id
            if int(mask.sum()) != image_embeds.shape[0]:
                raise RuntimeError(
                    f"{int(mask.sum())} image tokens but {image_embeds.shape[0]} image features"
                )
            embeds = embeds.masked_scatter(
                mask.unsqueeze(-1).expand_as(embeds), image_embeds.to(embeds.dtype)
            )
        out = decoder(
            inputs_embeds=embeds,
            attention_mask=inputs.attention_mask.to(self.device),
            position_ids=inputs.position_ids.to(self.device),
            use_cache=False,
            return_dict=True,
        )
        return out.last_hidden_state

    def encode_images(self, pixel_values: Any, grid_thw: Any) -> Any:
        """Vision-tower features [sum_i n_tokens_i, dim] for concatenated images.

        The tower attends within each image only, but its sdpa/eager path in transformers 4.x
        builds a dense [patches, patches] mask over *all* images of the call: quadratic in the
        batch. Images are therefore sent in groups of at most `vision_chunk_patches` patches
        (flash-attention uses cu_seqlens and takes them all at once); the result is the same.
        """
        import torch

        visual, _ = _model_parts(self.model)
        vis_dtype = next(visual.parameters()).dtype
        pixel_values = pixel_values.to(self.device, vis_dtype)
        grid_thw = grid_thw.to(self.device)
        outputs = []
        for (img_lo, img_hi), (row_lo, row_hi) in _patch_groups(grid_thw, self.vision_chunk_patches):
            out = visual(pixel_values[row_lo:row_hi], grid_thw=grid_thw[img_lo:img_hi])
            if not isinstance(out, torch.Tensor):
                raise RuntimeError("this transformers version's Qwen2-VL visual returns no tensor")
            outputs.append(out)
        return torch.cat(outputs, dim=0)

    def describe(self) -> dict[str, Any]:
        """What decides these vectors, for the feature manifest."""
        ref = self.adapter_ref
        return {
            "model": self.model_path,
            "revision": self.revision,
            "adapter": None if ref is None else ref.path,
            "adapter_subfolder": None if ref is None else ref.subfolder,
            "adapter_revision": None if ref is None else ref.revision,
            "dtype": dtype_name(self.torch_dtype),
            "attn_implementation": self.attn_implementation,
            "image_size": self.image_size,
            "max_text_length": self.max_text_length,
            "dim": self.dim,
            "pooling": "last_token_l2",
            "device": self.device,
            "library_versions": library_versions(),
        }


def _vision_chunk(requested: int | None, attn: str, device: str) -> int | None:
    """Patch budget per vision-tower call (None: all images at once)."""
    if attn == "flash_attention_2":
        return None
    if requested is not None:
        if requested < 1:
            raise ValueError(f"vision_chunk_patches must be >= 1, got {requested}")
        return requested
    return 2048 if device.startswith("cuda") else 256


def _patch_groups(grid_thw: Any, budget: int | None) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Consecutive image groups of at most `budget` patches (>= 1 image each):
    [((first_image, end_image), (first_patch_row, end_patch_row)), ...]."""
    sizes = [int(v) for v in grid_thw.prod(dim=-1).tolist()]
    groups, img_lo, row_lo, rows = [], 0, 0, 0
    for i, n in enumerate(sizes):
        if budget is not None and i > img_lo and rows + n > budget:
            groups.append(((img_lo, i), (row_lo, row_lo + rows)))
            img_lo, row_lo, rows = i, row_lo + rows, 0
        rows += n
    groups.append(((img_lo, len(sizes)), (row_lo, row_lo + rows)))
    return groups


def expand_image_tokens(ids: list[int], image_token_id: int, n_tokens: int) -> list[int]:
    """Replace the (single) image placeholder id with n_tokens copies, as Qwen2VLProcessor does."""
    at = ids.index(image_token_id)
    return ids[:at] + [image_token_id] * n_tokens + ids[at + 1 :]


def pad_rows(rows: list[list[int]], pad_id: int, side: str) -> tuple[list[list[int]], list[list[int]]]:
    """Pad token rows to the longest with pad_id on `side`; returns (ids, attention_mask)."""
    width = max(len(r) for r in rows)
    ids, mask = [], []
    for r in rows:
        pad = width - len(r)
        if side == "left":
            ids.append([pad_id] * pad + r)
            mask.append([0] * pad + [1] * len(r))
        else:
            ids.append(r + [pad_id] * pad)
            mask.append([1] * len(r) + [0] * pad)
    return ids, mask


def _resolve_model_and_adapter(
    model: str,
    revision: str | None,
    adapter: str | None,
    adapter_subfolder: str | None,
    adapter_revision: str | None,
) -> tuple[str, str | None, AdapterRef | None]:
    """(base model, its revision, adapter): an explicit adapter, or `model` itself when it is an
    adapter (then `revision` is the adapter's and the base named in adapter_config.json is used
    at its default revision, as VLM2Vec's loader does)."""
    if adapter is not None:
        path, sub = split_adapter(adapter, adapter_subfolder)
        return model, revision, AdapterRef(path, sub, adapter_revision)
    path, sub = split_adapter(model, adapter_subfolder)
    ref = AdapterRef(path, sub, revision)
    cfg = read_adapter_config(ref)
    if cfg is None:
        return model, revision, None
    return base_model_of(ref, cfg), None, ref


def _apply_adapter(model: Any, ref: AdapterRef, merge: bool) -> Any:
    """Load the LoRA with peft onto the base; merge it (VLM2Vec's eval path) unless told not to."""
    from peft import PeftModel

    local = ref.local_dir
    if local is not None:
        peft_model = PeftModel.from_pretrained(model, str(local))
    else:
        kwargs: dict[str, Any] = {"revision": ref.revision}
        if ref.subfolder:
            kwargs["subfolder"] = ref.subfolder
        peft_model = PeftModel.from_pretrained(model, ref.path, **kwargs)
    return peft_model.merge_and_unload() if merge else peft_model


def _model_parts(model: Any) -> tuple[Any, Any]:
    """(vision tower, text decoder) across transformers layouts: 4.51 keeps `visual` on the
    generation model and the decoder in `.model`; >= 4.52 nests both in `.model`. A peft wrapper
    (unmerged adapter) is looked through."""
    inner = model
    if hasattr(inner, "get_base_model"):
        inner = inner.get_base_model()
    core = inner.model
    if hasattr(core, "language_model") and hasattr(core, "visual"):
        return core.visual, core.language_model
    return inner.visual, core
