"""Tiny, randomly initialised stand-ins for the real encoders, built offline in seconds.

They let the real `from_pretrained(local_dir)` code paths (tokenizer, image processor, weights,
LoRA merge) run in tests and in the demo with no download. Their vectors carry no meaning.

    build_tiny_models("resources/models", seed=0)
    -> resources/models/{tiny-qwen2vl, tiny-qwen2vl-lora, tiny-resnet, tiny-bert}

The same seed gives the same files (weights, configs, tokenizers) on the same library versions.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

TINY_QWEN2VL = "tiny-qwen2vl"
TINY_QWEN2VL_LORA = "tiny-qwen2vl-lora"
TINY_RESNET = "tiny-resnet"
TINY_BERT = "tiny-bert"
TINY_MODEL_NAMES = (TINY_QWEN2VL, TINY_QWEN2VL_LORA, TINY_RESNET, TINY_BERT)

QWEN2VL_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
# The modules VLM2Vec's training code puts LoRA on (names of other backbones simply do not match).
VLM2VEC_LORA_TARGETS = [
    "qkv_proj", "o_proj", "gate_up_proj", "down_proj", "k_proj",
    "q_proj", "out_proj", "v_proj", "gate_proj", "up_proj",
]  # fmt: skip

# A fixed corpus so the byte-level BPE learns a few merges for product-like text.
_CORPUS = [
    "Baby stroller with rain cover, category: Strollers",
    "Soft cotton baby blanket, category: Nursery Bedding",
    "Running shoes for men, category: Sports & Outdoors",
    "Generate a unified representation for this product.",
    "You are analyzing a product for retrieval purposes. Here is the product image:",
    "Product details: title, brand, category, description 0123456789",
]
_BERT_WORDS_TEXT = (
    "the a an and or of for with to in on is are this that product baby sports outdoors toy "
    "category title brand shoes bottle stroller car seat blanket soft cotton red blue green "
    "generate unified representation details image"
)


def build_tiny_models(out_dir: str | Path, seed: int = 0) -> dict[str, Path]:
    """Write the four tiny models under `out_dir` (replacing earlier builds); return name -> dir.

    Each model is written into a staging dir and moved into place, so an interrupted build never
    leaves a half-written model that a later `from_pretrained` would half-load.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    builders: list[tuple[str, Callable[[Path, int], None]]] = [
        (TINY_QWEN2VL, _build_qwen2vl),
        (TINY_QWEN2VL_LORA, lambda d, s: _build_qwen2vl_lora(d, out / TINY_QWEN2VL, s)),
        (TINY_RESNET, _build_resnet),
        (TINY_BERT, _build_bert),
    ]
    paths: dict[str, Path] = {}
    for name, build in builders:
        paths[name] = _build_atomically(out / name, build, seed)
        log.info("built %s", paths[name])
    return paths


def _build_atomically(target: Path, build: Callable[[Path, int], None], seed: int) -> Path:
    staging = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    build(staging, seed)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def _seed(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def build_qwen2vl_tokenizer():  # -> Qwen2TokenizerFast
    """A byte-level BPE (any text tokenizes) with Qwen2-VL's special tokens, in the Qwen2 class
    (transformers' Qwen2VLProcessor refuses a generic fast tokenizer)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2TokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=QWEN2VL_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tk.train_from_iterator(_CORPUS, trainer=trainer)
    return Qwen2TokenizerFast(
        tokenizer_object=tk,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        additional_special_tokens=QWEN2VL_SPECIAL_TOKENS[1:],
    )


def _build_qwen2vl(out: Path, seed: int) -> None:
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessor

    tok = build_qwen2vl_tokenizer()
    ids = {t: tok.convert_tokens_to_ids(t) for t in QWEN2VL_SPECIAL_TOKENS}
    # transformers 4.51 wants the text settings flat (text_config= breaks it), as in the reference
    # notes; sum(mrope_section) * 2 must equal head_dim (64 / 4 = 16).
    cfg = Qwen2VLConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]},
        tie_word_embeddings=True,
        # Larger than the 0.02 default so attention is not near-uniform: position and prompt
        # mistakes then move the tiny embeddings visibly (tests can tell them apart).
        initializer_range=0.1,
        vision_config={
            "depth": 2,
            "embed_dim": 32,
            "hidden_size": 64,
            "num_heads": 2,
            "mlp_ratio": 2,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    _seed(seed)
    model = Qwen2VLForConditionalGeneration(cfg).eval()
    model.save_pretrained(out)
    tok.save_pretrained(out)
    Qwen2VLImageProcessor().save_pretrained(out)  # Qwen2-VL's defaults; the encoder sets VLM2Vec's bounds


def _build_qwen2vl_lora(out: Path, base_dir: Path, seed: int) -> None:
    """A DoRA/LoRA adapter shaped like VLM2Vec's (same target modules, use_dora as in its training
    code) with non-zero B matrices, so merging it visibly changes the embeddings."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2VLForConditionalGeneration

    base = Qwen2VLForConditionalGeneration.from_pretrained(base_dir, torch_dtype=torch.float32)
    cfg = LoraConfig(
        r=4,
        lora_alpha=8,
        lora_dropout=0.0,
        init_lora_weights="gaussian",
        use_dora=True,
        target_modules=VLM2VEC_LORA_TARGETS,
    )
    _seed(seed + 1)
    model = get_peft_model(base, cfg)
    gen = torch.Generator().manual_seed(seed + 2)
    with torch.no_grad():
        for name, param in sorted(model.named_parameters()):
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.2)
    model.save_pretrained(out)
    # Name the base by its sibling dir, not the absolute build path, so the files do not depend on
    # where they were built (model_loading.base_model_of resolves it next to the adapter).
    cfg_path = out / "adapter_config.json"
    adapter_cfg = json.loads(cfg_path.read_text())
    adapter_cfg["base_model_name_or_path"] = TINY_QWEN2VL
    cfg_path.write_text(json.dumps(adapter_cfg, indent=2, sort_keys=True) + "\n")
    readme = out / "README.md"
    if readme.exists():
        readme.unlink()  # peft's model card embeds the staging path


def _build_resnet(out: Path, seed: int) -> None:
    """A small bottleneck ResNet saved as *ForImageClassification, like microsoft/resnet-50, with
    microsoft/resnet-50's preprocessing (shortest edge 224 / crop_pct 0.875: resize 256, crop 224)."""
    from transformers import ConvNextImageProcessor, ResNetConfig, ResNetForImageClassification

    cfg = ResNetConfig(
        embedding_size=8,
        hidden_sizes=[8, 16, 24, 32],
        depths=[1, 1, 1, 1],
        layer_type="bottleneck",
        num_labels=4,
    )
    _seed(seed)
    ResNetForImageClassification(cfg).eval().save_pretrained(out)
    ConvNextImageProcessor(
        size={"shortest_edge": 224},
        crop_pct=0.875,
        resample=3,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    ).save_pretrained(out)


def _build_bert(out: Path, seed: int) -> None:
    from transformers import BertConfig, BertModel, BertTokenizerFast

    letters = list("abcdefghijklmnopqrstuvwxyz0123456789.,:;!?&-'")
    pieces = [f"##{c}" for c in letters]
    # dict.fromkeys keeps the first occurrence: a duplicate ("a") would leave a hole in the ids.
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *letters, *_BERT_WORDS_TEXT.split(), *pieces]
    vocab = list(dict.fromkeys(tokens))
    vocab_file = out / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n")
    tok = BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True)
    cfg = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    _seed(seed)
    BertModel(cfg).eval().save_pretrained(out)
    tok.save_pretrained(out)
