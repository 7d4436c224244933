"""Prompt construction for every strategy: the exact strings each encoder receives."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from feature_fakes import MISSING, FakeFactory

from vlmrec.features.registry import build_feature_set, strategy_params
from vlmrec.features.strategies._common import check_template, fill_prompt
from vlmrec.features.strategies.mmrec_original import mmrec_text

INSTRUCTION = "Generate a unified representation for this product."
GUIDED = "You are analyzing a product for retrieval purposes. Here is the product image:"


def _build(strategy: str, items_path: Path, config: dict, factory: FakeFactory) -> None:
    out = items_path.parent / "features" / strategy
    build_feature_set(strategy, items_path, out, strategy_params(strategy, config), encoder_factory=factory)


def _by_text(items_path: Path) -> list[str]:
    return pd.read_parquet(items_path)["text"].tolist()


def test_paper_prompts_in_config(features_config: dict) -> None:
    """The config's prompt strings are the paper's (seed-paper.md), with VLM2Vec's placeholder."""
    prompts = features_config["prompts"]
    assert prompts["visual"] == "<|image_pad|>"
    assert prompts["textual"] == "{text}"
    assert prompts["prompt1"] == f"<|image_pad|> {{text}} {INSTRUCTION}"
    assert prompts["prompt2"] == f"{GUIDED} <|image_pad|> Product details: {{text}} {INSTRUCTION}"


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("textual", "{text}"),
        ("prompt1", "<|image_pad|> {text} " + INSTRUCTION),
        ("prompt2", GUIDED + " <|image_pad|> Product details: {text} " + INSTRUCTION),
    ],
)
def test_prompt_strings_with_image(strategy, expected, items_path, features_config) -> None:
    factory = FakeFactory()
    _build(strategy, items_path, features_config, factory)
    texts = _by_text(items_path)
    seen = factory.seen("vlm2vec")
    assert len(seen) == len(texts)
    by_prompt = {x.text: x for x in seen}
    for i, text in enumerate(texts):
        if strategy != "textual" and i in MISSING:
            continue
        prompt = expected.replace("{text}", text)
        assert prompt in by_prompt, prompt
        has_image = by_prompt[prompt].image is not None
        assert has_image == (strategy != "textual")


def test_textual_reads_no_image(items_path, features_config) -> None:
    factory = FakeFactory()
    _build("textual", items_path, features_config, factory)
    assert sorted(x.text for x in factory.seen("vlm2vec")) == sorted(_by_text(items_path))
    assert all(x.image is None for x in factory.seen("vlm2vec"))


def test_visual_prompt_is_the_placeholder_alone(items_path, features_config) -> None:
    factory = FakeFactory()
    _build("visual", items_path, features_config, factory)
    seen = factory.seen("vlm2vec")
    assert len(seen) == len(_by_text(items_path)) - len(MISSING)  # items without image are not encoded
    assert {x.text for x in seen} == {"<|image_pad|>"}
    assert all(x.image is not None and x.image.size == (224, 224) for x in seen)  # config image_size


def test_fused_prompts_without_image_are_text_only(items_path, features_config) -> None:
    factory = FakeFactory()
    _build("prompt1", items_path, features_config, factory)
    _build("prompt2", items_path, features_config, factory)
    texts = _by_text(items_path)
    text_only = {x.text for x in factory.seen("vlm2vec") if x.image is None}
    expected = set()
    for i in MISSING:
        expected.add(f"{texts[i]} {INSTRUCTION}")
        expected.add(f"{GUIDED} Product details: {texts[i]} {INSTRUCTION}")
    assert text_only == expected


def test_fused_prompts_mean_policy_skips_imageless_items(items_path, features_config) -> None:
    features_config["missing_image_fused"] = "mean"
    factory = FakeFactory()
    _build("prompt2", items_path, features_config, factory)
    seen = factory.seen("vlm2vec")
    assert len(seen) == len(_by_text(items_path)) - len(MISSING)
    assert all(x.image is not None for x in seen)


def test_braces_in_titles_are_kept() -> None:
    assert fill_prompt("<|image_pad|> {text} X", "Set {2 pcs}, category: Baby") == (
        "<|image_pad|> Set {2 pcs}, category: Baby X"
    )
    assert fill_prompt("A: <|image_pad|> B {text}", "t", with_image=False) == "A: B t"


def test_original_inputs(items_path, features_config) -> None:
    factory = FakeFactory()
    _build("original", items_path, features_config, factory)
    images = factory.seen("resnet")
    assert len(images) == len(_by_text(items_path)) - len(MISSING)
    assert all(x.text is None and x.image is not None for x in images)
    # The ResNet processor does its own resize/crop: images arrive at their original size.
    assert {x.image.size[1] for x in images} == {40}
    assert sorted(x.text for x in factory.seen("text")) == sorted(_by_text(items_path))


def test_mmrec_text_template(items_path) -> None:
    items = pd.read_parquet(items_path)
    assert mmrec_text(items)[2] == "Item 2 word word brand2 Baby Toys desc 2"


@pytest.mark.parametrize(
    ("template", "image", "text"),
    [("{text}", True, True), ("<|image_pad|> x", True, True), ("<|image_pad|> {text}", False, True)],
)
def test_bad_templates_name_the_key(template, image, text) -> None:
    with pytest.raises(ValueError, match="features.prompts.k"):
        check_template(template, image=image, text=text, key="k")
