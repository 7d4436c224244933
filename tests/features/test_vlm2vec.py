"""VLM2VecEncoder on the tiny Qwen2-VL: inputs, position ids, pooling, padding, LoRA, loading."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vlmrec.features.base import EncoderInput
from vlmrec.features.model_loading import split_adapter
from vlmrec.features.tiny_models import TINY_QWEN2VL, TINY_QWEN2VL_LORA, build_tiny_models
from vlmrec.features.vlm2vec import (
    IMAGE_TOKEN,
    VLM2VecEncoder,
    last_token_pool,
    sequential_position_ids,
)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vlm2vec_models")
    build_tiny_models(out, seed=0)
    return out


@pytest.fixture(scope="module")
def base_dir(models_dir: Path) -> Path:
    return models_dir / TINY_QWEN2VL


@pytest.fixture(scope="module")
def encoder(base_dir: Path) -> VLM2VecEncoder:
    return VLM2VecEncoder(str(base_dir), image_size=None, batch_size=8)


def _image(h: int, w: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8))


def _mixed_batch() -> list[EncoderInput]:
    """Texts and images of different lengths/sizes, so rows need different amounts of padding."""
    return [
        EncoderInput("Soft cotton baby blanket, category: Nursery Bedding"),
        EncoderInput(f"{IMAGE_TOKEN} Baby stroller Generate a unified representation.", _image(100, 80, 1)),
        EncoderInput("red", None),
        EncoderInput(IMAGE_TOKEN, _image(60, 140, 2)),
        EncoderInput(f"Here is the product image: {IMAGE_TOKEN} Product details: shoes", _image(20, 30, 3)),
    ]


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


# ------------------------------------------------------------------------------- pooling / padding
def test_output_is_float32_unit_rows(encoder: VLM2VecEncoder) -> None:
    out = encoder.encode_batch(_mixed_batch())
    assert out.shape == (5, encoder.dim) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(out).all()


def test_left_and_right_padding_give_the_same_vectors(base_dir: Path) -> None:
    left = VLM2VecEncoder(str(base_dir), image_size=None, padding_side="left")
    right = VLM2VecEncoder(str(base_dir), image_size=None, padding_side="right")
    batch = _mixed_batch()
    inputs = right.build_inputs(batch)
    assert int(inputs.attention_mask[:, -1].sum()) < len(batch)  # right pooling really indexes
    assert int(left.build_inputs(batch).attention_mask[:, 0].sum()) < len(batch)
    np.testing.assert_allclose(left.encode_batch(batch), right.encode_batch(batch), atol=2e-6)


def test_vectors_do_not_depend_on_batch_size_or_neighbours(base_dir: Path) -> None:
    batch = _mixed_batch()
    together = VLM2VecEncoder(str(base_dir), image_size=None, batch_size=16).encode_batch(batch)
    alone = VLM2VecEncoder(str(base_dir), image_size=None, batch_size=1).encode_batch(batch)
    np.testing.assert_allclose(together, alone, atol=2e-6)
    enc = VLM2VecEncoder(str(base_dir), image_size=None, batch_size=16)
    reordered = enc.encode_batch(batch[::-1] + batch[:2])
    np.testing.assert_allclose(reordered[:5][::-1], together, atol=2e-6)


def test_last_token_pool_picks_the_last_real_token() -> None:
    hidden = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3) + 1
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    expected = torch.nn.functional.normalize(torch.stack([hidden[0, 1], hidden[1, 3]]), dim=-1)
    torch.testing.assert_close(last_token_pool(hidden, right), expected)
    left = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    expected_left = torch.nn.functional.normalize(hidden[:, 3], dim=-1)
    torch.testing.assert_close(last_token_pool(hidden, left), expected_left)


# ------------------------------------------------------------------------------- inputs
def test_placeholder_expansion_matches_transformers_processor(
    encoder: VLM2VecEncoder, base_dir: Path
) -> None:
    from transformers import AutoTokenizer, Qwen2VLImageProcessor, Qwen2VLProcessor

    lo, hi = encoder._pixel_bounds()
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor.from_pretrained(base_dir, min_pixels=lo, max_pixels=hi),
        tokenizer=AutoTokenizer.from_pretrained(base_dir),
    )
    for item in _mixed_batch():
        ours = encoder.build_inputs([item])
        image = None if item.image is None else [encoder.prepare_image(item.image)]
        ref = processor(text=[encoder.prompt_of(item)], images=image, return_tensors="pt")
        assert ours.input_ids.tolist() == ref["input_ids"].tolist()
        if item.image is not None:
            assert ours.image_grid_thw.tolist() == ref["image_grid_thw"].tolist()
            torch.testing.assert_close(ours.pixel_values, ref["pixel_values"])
            t, h, w = ours.image_grid_thw[0].tolist()
            assert int((ours.input_ids == encoder.image_token_id).sum()) == t * h * w // 4
            assert encoder.image_grid(item.image) == (t, h, w)
        assert encoder.token_length(item) == ours.input_ids.shape[1]


def test_prompt_is_raw_text_without_special_tokens(encoder: VLM2VecEncoder) -> None:
    item = EncoderInput(f"{IMAGE_TOKEN} red shoes", _image(56, 56, 0))
    ids = encoder.build_inputs([item]).input_ids[0].tolist()
    tok = encoder.tokenizer
    for special in ("<|vision_start|>", "<|vision_end|>", "<|im_start|>", "<|im_end|>", "<|endoftext|>"):
        assert tok.convert_tokens_to_ids(special) not in ids
    assert ids[0] == encoder.image_token_id  # the prompt starts with the image, as VLM2Vec's
    assert ids[-1] == tok(f"{IMAGE_TOKEN} red shoes")["input_ids"][-1]  # no EOS appended
    assert tok.decode([i for i in ids if i != encoder.image_token_id]) == " red shoes"


def test_image_size_224_gives_64_image_tokens(base_dir: Path) -> None:
    enc = VLM2VecEncoder(str(base_dir), image_size=224)
    inputs = enc.build_inputs([EncoderInput(IMAGE_TOKEN, _image(300, 500, 4))])
    assert inputs.image_grid_thw.tolist() == [[1, 16, 16]]
    assert int((inputs.input_ids == enc.image_token_id).sum()) == 64


def test_placeholder_and_image_must_agree(encoder: VLM2VecEncoder) -> None:
    with pytest.raises(ValueError, match="placeholder"):
        encoder.encode_batch([EncoderInput("no placeholder here", _image(56, 56, 0))])
    with pytest.raises(ValueError, match="placeholder"):
        encoder.encode_batch([EncoderInput(f"{IMAGE_TOKEN} but no image")])
    # An image without text is VLM2Vec's image-only prompt.
    a = encoder.encode_batch([EncoderInput(None, _image(56, 56, 0))])
    b = encoder.encode_batch([EncoderInput(IMAGE_TOKEN, _image(56, 56, 0))])
    np.testing.assert_array_equal(a, b)


def test_max_text_length_truncates_the_prompt(base_dir: Path) -> None:
    enc = VLM2VecEncoder(str(base_dir), max_text_length=5)
    long = EncoderInput("a very long product title with many many words in it")
    assert enc.token_length(long) == 5
    with pytest.raises(ValueError, match="max_text_length"):
        enc.token_length(EncoderInput(f"many words before the image here {IMAGE_TOKEN}", _image(56, 56, 0)))


# ------------------------------------------------------------------------------- position ids
def test_position_ids_are_sequential_over_real_tokens_with_images(encoder: VLM2VecEncoder) -> None:
    inputs = encoder.build_inputs(_mixed_batch())
    pos, mask = inputs.position_ids, inputs.attention_mask
    assert pos.shape == (3, *mask.shape)
    assert torch.equal(pos[0], pos[1]) and torch.equal(pos[0], pos[2])  # no 3-D M-RoPE block
    for row in range(mask.shape[0]):
        real = pos[0, row][mask[row] == 1]
        assert real.tolist() == list(range(int(mask[row].sum())))
    torch.testing.assert_close(sequential_position_ids(mask), pos)


def test_embeddings_equal_stock_qwen2vl_forward_on_vlm2vec_prompts(encoder: VLM2VecEncoder) -> None:
    """The reference: transformers' own forward + VLM2Vec's hidden_states[-1] pooling. In 4.x the
    stock model gives prompts without <|vision_start|> sequential positions (VLM2Vec's rule)."""
    import transformers
    from packaging.version import Version

    if Version(transformers.__version__) >= Version("5.3"):
        pytest.skip("transformers >= 5.3 gives image blocks 3-D positions in its own forward")
    batch = _mixed_batch()
    inputs = encoder.build_inputs(batch)
    with torch.inference_mode():
        out = encoder.model(
            input_ids=inputs.input_ids,
            attention_mask=inputs.attention_mask,
            pixel_values=inputs.pixel_values,
            image_grid_thw=inputs.image_grid_thw,
            output_hidden_states=True,
        )
    reference = last_token_pool(out.hidden_states[-1], inputs.attention_mask).numpy()
    np.testing.assert_allclose(encoder.encode_batch(batch), reference, atol=2e-6)


def test_mrope_positions_would_change_image_embeddings(encoder: VLM2VecEncoder) -> None:
    """Guards the test above: on image inputs, 3-D positions give other vectors (so the rule matters)."""
    batch = [EncoderInput(f"{IMAGE_TOKEN} red shoes for a baby stroller", _image(224, 224, 5))]
    inputs = encoder.build_inputs(batch)
    ids = inputs.input_ids[0]
    start = int((ids == encoder.image_token_id).nonzero()[0])
    _, h, w = inputs.image_grid_thw[0].tolist()
    gh, gw = h // 2, w // 2
    n = gh * gw
    mrope = inputs.position_ids.clone()
    mrope[0, 0, start : start + n] = start
    mrope[1, 0, start : start + n] = start + torch.arange(gh).repeat_interleave(gw)
    mrope[2, 0, start : start + n] = start + torch.arange(gw).repeat(gh)
    tail = torch.arange(ids.shape[0] - start - n) + start + max(gh, gw)
    mrope[:, 0, start + n :] = tail
    with torch.inference_mode():
        ours = last_token_pool(encoder.last_hidden_state(inputs), inputs.attention_mask).numpy()
        inputs.position_ids = mrope
        other = last_token_pool(encoder.last_hidden_state(inputs), inputs.attention_mask).numpy()
    assert float(_cos(ours, other)[0]) < 0.999


# ------------------------------------------------------------------------------- LoRA / loading
def test_lora_merge_changes_vectors_and_equals_unmerged_peft(models_dir: Path, base_dir: Path) -> None:
    adapter = str(models_dir / TINY_QWEN2VL_LORA)
    batch = _mixed_batch()
    base = VLM2VecEncoder(str(base_dir), image_size=None).encode_batch(batch)
    merged_enc = VLM2VecEncoder(str(base_dir), adapter=adapter, image_size=None)
    merged = merged_enc.encode_batch(batch)
    unmerged = VLM2VecEncoder(str(base_dir), adapter=adapter, image_size=None, merge_adapter=False)
    assert type(unmerged.model).__name__ == "PeftModel"
    assert type(merged_enc.model).__name__ == "Qwen2VLForConditionalGeneration"
    np.testing.assert_allclose(merged, unmerged.encode_batch(batch), atol=1e-5)
    assert float(_cos(base, merged).max()) < 0.99


def test_model_naming_an_adapter_loads_its_base(models_dir: Path, base_dir: Path) -> None:
    adapter = models_dir / TINY_QWEN2VL_LORA
    by_adapter = VLM2VecEncoder(str(adapter), image_size=None)
    assert Path(by_adapter.model_path) == base_dir
    assert by_adapter.adapter_ref is not None and Path(by_adapter.adapter_ref.path) == adapter
    explicit = VLM2VecEncoder(str(base_dir), adapter=str(adapter), image_size=None)
    batch = _mixed_batch()[:2]
    np.testing.assert_array_equal(by_adapter.encode_batch(batch), explicit.encode_batch(batch))


def test_adapter_in_a_subfolder(models_dir: Path, base_dir: Path, tmp_path: Path) -> None:
    repo = tmp_path / "VLM2Vec-Qwen2VL-tiny"
    shutil.copytree(models_dir / TINY_QWEN2VL_LORA, repo / "lora")
    batch = _mixed_batch()[:2]
    sub = VLM2VecEncoder(str(base_dir), adapter=str(repo), adapter_subfolder="lora", image_size=None)
    flat = VLM2VecEncoder(str(base_dir), adapter=str(repo / "lora"), image_size=None)
    np.testing.assert_array_equal(sub.encode_batch(batch), flat.encode_batch(batch))
    assert split_adapter("TIGER-Lab/VLM2Vec-Qwen2VL-7B/lora") == ("TIGER-Lab/VLM2Vec-Qwen2VL-7B", "lora")
    assert split_adapter("VLM2Vec/VLM2Vec-V2.0") == ("VLM2Vec/VLM2Vec-V2.0", None)


def test_dim_dtype_and_describe(base_dir: Path) -> None:
    enc = VLM2VecEncoder(str(base_dir), dtype="auto", device="cpu")
    assert enc.dim == 64 and enc.torch_dtype == torch.float32
    info = enc.describe()
    assert info["dtype"] == "float32" and info["dim"] == 64 and info["attn_implementation"] == "sdpa"
    bf16 = VLM2VecEncoder(str(base_dir), dtype="bfloat16", device="cpu")
    batch = _mixed_batch()[:2]
    out = bf16.encode_batch(batch)
    assert out.dtype == np.float32
    assert float(_cos(out, enc.encode_batch(batch)).min()) > 0.98


def test_flash_attention_without_package_is_a_clear_error(base_dir: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("flash_attn") is not None:
        pytest.skip("flash-attn is installed")
    with pytest.raises(ValueError, match="attn_implementation"):
        VLM2VecEncoder(str(base_dir), attn_implementation="flash_attention_2")


def test_vision_tower_groups_give_the_same_features(base_dir: Path) -> None:
    from vlmrec.features.vlm2vec import _patch_groups

    grid = torch.tensor([[1, 8, 8], [1, 4, 6], [1, 16, 16], [1, 2, 2]])
    assert _patch_groups(grid, 100) == [((0, 2), (0, 88)), ((2, 3), (88, 344)), ((3, 4), (344, 348))]
    assert _patch_groups(grid, None) == [((0, 4), (0, 348))]
    batch = _mixed_batch()
    one_call = VLM2VecEncoder(str(base_dir), image_size=None, vision_chunk_patches=10**9)
    per_image = VLM2VecEncoder(str(base_dir), image_size=None, vision_chunk_patches=1)
    np.testing.assert_allclose(one_call.encode_batch(batch), per_image.encode_batch(batch), atol=2e-6)
