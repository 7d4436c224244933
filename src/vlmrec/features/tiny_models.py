"""Tiny, randomly initialised stand-ins for the real encoders, built offline in seconds.

They let the real `from_pretrained(local_dir)` code paths (tokenizer, image processor, weights,
LoRA merge) run in tests and in the demo with no download. Their vectors carry no meaning.

    build_tiny_models("resources/models", seed=0)
    -> resources/models/{tiny-qwen2vl, tiny-qwen2vl-lora, tiny-resnet, tiny-bert, tiny-clip, tiny-siglip}
    build_tiny_models(out, names=["tiny-blip", "tiny-vit", "tiny-st", "tiny-siglip2"])   # tests, benchmarks

One per encoder kind: Qwen2-VL (+ a VLM2Vec-shaped LoRA), ResNet and ViT (hf_image), BERT
(hf_text), CLIP, SigLIP (the architecture of the fixed-resolution SigLIP 2 checkpoints), SigLIP 2
NaFlex, BLIP's
retrieval model, and a sentence-transformers model (BERT + mean pooling + Dense + Normalize).

The same seed gives the same files (weights, configs, tokenizers) on the same library versions.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TINY_QWEN2VL = "tiny-qwen2vl"
TINY_QWEN2VL_LORA = "tiny-qwen2vl-lora"
TINY_RESNET = "tiny-resnet"
TINY_BERT = "tiny-bert"
TINY_CLIP = "tiny-clip"
TINY_SIGLIP = "tiny-siglip"
TINY_SIGLIP2 = "tiny-siglip2"
TINY_BLIP = "tiny-blip"
TINY_VIT = "tiny-vit"
TINY_ST = "tiny-st"
# What the workflow's build_tiny_models rule builds (the demo's models).
TINY_MODEL_NAMES = (TINY_QWEN2VL, TINY_QWEN2VL_LORA, TINY_RESNET, TINY_BERT, TINY_CLIP, TINY_SIGLIP)
# Built on request (exactness tests, benchmarks).
EXTRA_TINY_MODEL_NAMES = (TINY_BLIP, TINY_VIT, TINY_ST, TINY_SIGLIP2)

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


def build_tiny_models(
    out_dir: str | Path, seed: int = 0, names: tuple[str, ...] | list[str] = TINY_MODEL_NAMES
) -> dict[str, Path]:
    """Write the tiny models `names` under `out_dir` (replacing earlier builds); return name -> dir.

    Each model is written into a staging dir and moved into place, so an interrupted build never
    leaves a half-written model that a later `from_pretrained` would half-load. Models built
    from another (the LoRA on tiny-qwen2vl, tiny-st on tiny-bert) build it first when missing.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    builders: dict[str, Callable[[Path, int], None]] = {
        TINY_QWEN2VL: _build_qwen2vl,
        TINY_QWEN2VL_LORA: lambda d, s: _build_qwen2vl_lora(d, out / TINY_QWEN2VL, s),
        TINY_RESNET: _build_resnet,
        TINY_BERT: _build_bert,
        TINY_CLIP: _build_clip,
        TINY_SIGLIP: _build_siglip,
        TINY_SIGLIP2: _build_siglip2,
        TINY_BLIP: _build_blip,
        TINY_VIT: _build_vit,
        TINY_ST: lambda d, s: _build_sentence_transformer(d, out / TINY_BERT, s),
    }
    unknown = [n for n in names if n not in builders]
    if unknown:
        raise ValueError(f"unknown tiny models {unknown}; known: {', '.join(builders)}")
    needs = {TINY_QWEN2VL_LORA: TINY_QWEN2VL, TINY_ST: TINY_BERT}
    todo = list(dict.fromkeys(names))
    for name, base in needs.items():
        if name in todo and base not in todo and not (out / base).is_dir():
            todo.insert(todo.index(name), base)
    paths: dict[str, Path] = {}
    for name in todo:
        paths[name] = _build_atomically(out / name, builders[name], seed)
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


def _byte_level_bpe(specials: list[str], vocab_size: int):  # -> tokenizers.Tokenizer
    """A byte-level BPE (any text tokenizes) trained on the product corpus, `specials` first."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tk.train_from_iterator(_CORPUS, trainer=trainer)
    return tk


def build_qwen2vl_tokenizer():  # -> Qwen2TokenizerFast
    """A byte-level BPE (any text tokenizes) with Qwen2-VL's special tokens, in the Qwen2 class
    (transformers' Qwen2VLProcessor refuses a generic fast tokenizer)."""
    from transformers import Qwen2TokenizerFast

    tk = _byte_level_bpe(QWEN2VL_SPECIAL_TOKENS, vocab_size=400)
    return Qwen2TokenizerFast(
        tokenizer_object=tk,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        additional_special_tokens=QWEN2VL_SPECIAL_TOKENS[1:],
    )


def qwen2vl_config(ids: dict[str, int], vision: dict[str, int], **text: Any) -> Any:
    """A Qwen2VLConfig: the text settings `text` flat (transformers 4.51: text_config= breaks it,
    as in the reference notes), tied embeddings, the vision tower `vision` with Qwen2-VL's
    14-px patches merged 2x2, and the special-token ids from `ids` (token -> id)."""
    from transformers import Qwen2VLConfig

    return Qwen2VLConfig(
        **text,
        tie_word_embeddings=True,
        vision_config={**vision, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2},
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )


def _build_qwen2vl(out: Path, seed: int) -> None:
    from transformers import Qwen2VLForConditionalGeneration, Qwen2VLImageProcessor

    tok = build_qwen2vl_tokenizer()
    ids = {t: tok.convert_tokens_to_ids(t) for t in QWEN2VL_SPECIAL_TOKENS}
    # sum(mrope_section) * 2 must equal head_dim (64 / 4 = 16).
    cfg = qwen2vl_config(
        ids,
        {"depth": 2, "embed_dim": 32, "hidden_size": 64, "num_heads": 2, "mlp_ratio": 2},
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]},
        # Larger than the 0.02 default so attention is not near-uniform: position and prompt
        # mistakes then move the tiny embeddings visibly (tests can tell them apart).
        initializer_range=0.1,
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
    from transformers import BertConfig, BertModel

    tok = _bert_tokenizer(out)
    cfg = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    _seed(seed)
    BertModel(cfg).eval().save_pretrained(out)
    tok.save_pretrained(out)


def _bert_tokenizer(out: Path):  # -> BertTokenizerFast
    """A lower-casing word-piece tokenizer over letters and product words (vocab.txt in `out`)."""
    from transformers import BertTokenizerFast

    letters = list("abcdefghijklmnopqrstuvwxyz0123456789.,:;!?&-'")
    pieces = [f"##{c}" for c in letters]
    # dict.fromkeys keeps the first occurrence: a duplicate ("a") would leave a hole in the ids.
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *letters, *_BERT_WORDS_TEXT.split(), *pieces]
    vocab = list(dict.fromkeys(tokens))
    vocab_file = out / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n")
    return BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True)


def _small_bpe_tokenizer(specials: list[str], template: str, **tokens: str):  # -> PreTrainedTokenizerFast
    """A byte-level BPE over the product corpus with `specials`, adding them per `template`
    (tokenizers' TemplateProcessing, e.g. "<|startoftext|> $A <|endoftext|>")."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    tk = _byte_level_bpe(specials, vocab_size=300)
    pieces = template.split()
    tk.post_processor = processors.TemplateProcessing(
        single=template, special_tokens=[(t, tk.token_to_id(t)) for t in pieces if t != "$A"]
    )
    # The ids and mask only (no token_type_ids), as CLIP's and SigLIP's own tokenizers return.
    return PreTrainedTokenizerFast(
        tokenizer_object=tk, model_input_names=["input_ids", "attention_mask"], **tokens
    )


def _tower(hidden: int = 32, **extra: object) -> dict:
    """The common size of every tiny transformer tower (2 layers, 2 heads)."""
    return {
        "hidden_size": hidden,
        "intermediate_size": 2 * hidden,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        **extra,
    }


def _build_clip(out: Path, seed: int) -> None:
    """CLIP with OpenAI's token conventions: <|startoftext|> text <|endoftext|>, padded with
    <|endoftext|>; eos id 1 (not 2), so the text tower pools at the first EOS token."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    tok = _small_bpe_tokenizer(
        ["<|startoftext|>", "<|endoftext|>"],
        "<|startoftext|> $A <|endoftext|>",
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        model_max_length=32,
    )
    ids = {
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id,
    }
    cfg = CLIPConfig(
        text_config=_tower(vocab_size=len(tok), max_position_embeddings=32, **ids),
        vision_config=_tower(image_size=32, patch_size=8),
        projection_dim=16,
    )
    _seed(seed)
    CLIPModel(cfg).eval().save_pretrained(out)
    tok.save_pretrained(out)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(out)


def _build_siglip(out: Path, seed: int) -> None:
    """SigLIP (the architecture of SigLIP and of the fixed-resolution SigLIP 2 checkpoints): texts
    end with </s> and are padded to the 16 positions of the text tower."""
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    _save_siglip(
        out,
        seed,
        SiglipConfig,
        SiglipModel,
        {"image_size": 32, "patch_size": 8},
        SiglipImageProcessor(size={"height": 32, "width": 32}),
    )


def _build_siglip2(out: Path, seed: int) -> None:
    """SigLIP 2 NaFlex (Siglip2Model): images keep their aspect ratio as up to 16 patches of 8 px,
    padded patches masked (pixel_attention_mask, spatial_shapes)."""
    from transformers import Siglip2Config, Siglip2ImageProcessor, Siglip2Model

    _save_siglip(
        out,
        seed,
        Siglip2Config,
        Siglip2Model,
        {"num_patches": 16, "patch_size": 8},
        Siglip2ImageProcessor(patch_size=8, max_num_patches=16),
    )


def _save_siglip(
    out: Path, seed: int, config_cls: Any, model_cls: Any, vision: dict[str, int], processor: Any
) -> None:
    """A SigLIP-family model: </s>-terminated texts padded to the text tower's 16 positions."""
    tok = _small_bpe_tokenizer(
        ["<pad>", "</s>", "<unk>"], "$A </s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    tok.model_max_length = 16
    cfg = config_cls(
        text_config=_tower(vocab_size=len(tok), max_position_embeddings=16, pad_token_id=tok.pad_token_id),
        vision_config=_tower(**vision),
    )
    _seed(seed)
    model_cls(cfg).eval().save_pretrained(out)
    tok.save_pretrained(out)
    processor.save_pretrained(out)


def _build_blip(out: Path, seed: int) -> None:
    """BLIP's image-text retrieval model (ITM + ITC heads) with a BERT word-piece tokenizer."""
    from transformers import BlipConfig, BlipForImageTextRetrieval, BlipImageProcessor

    tok = _bert_tokenizer(out)
    tok.model_max_length = 64  # the text tower's positions
    cfg = BlipConfig(
        text_config=_tower(vocab_size=len(tok), max_position_embeddings=64, pad_token_id=tok.pad_token_id),
        vision_config=_tower(image_size=32, patch_size=8),
        image_text_hidden_size=16,
    )
    _seed(seed)
    BlipForImageTextRetrieval(cfg).eval().save_pretrained(out)
    tok.save_pretrained(out)
    BlipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out)


def _build_vit(out: Path, seed: int) -> None:
    """A ViT image backbone (CLS token, tanh pooler): the hf_image kind's transformer case."""
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    _seed(seed)
    ViTModel(ViTConfig(**_tower(image_size=32, patch_size=8))).eval().save_pretrained(out)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out)


def _build_sentence_transformer(out: Path, bert_dir: Path, seed: int) -> None:
    """tiny-bert + mean pooling + a Dense layer + Normalize: a layout only sentence-transformers
    itself reproduces (the Dense layer), saved as a sentence-transformers model folder."""
    from sentence_transformers import SentenceTransformer, models

    _seed(seed)
    word = models.Transformer(str(bert_dir), max_seq_length=32)
    pooling = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
    dense = models.Dense(word.get_word_embedding_dimension(), 16)
    SentenceTransformer(modules=[word, pooling, dense, models.Normalize()], device="cpu").save(str(out))
