"""The strategy registry: specs, params per strategy, applicability, CLI."""

from __future__ import annotations

import pytest
import yaml

from vlmrec.config import REPO_ROOT
from vlmrec.features.registry import (
    STRATEGY_MODULES,
    all_specs,
    get_spec,
    strategy_applies,
    strategy_params,
)

ARCHITECTURE_MODALITIES = {
    "visual": ("image",),
    "textual": ("text",),
    "prompt1": ("fused",),
    "prompt2": ("fused",),
    "dual": ("image", "text"),
    "dual_concat": ("fused",),
    "original": ("image", "text"),
    "provided": ("image", "text"),
    "mmrec_original": ("image", "text"),
}


def test_registry_matches_the_contract() -> None:
    specs = all_specs()
    assert {name: spec.modalities for name, spec in specs.items()} == ARCHITECTURE_MODALITIES
    assert all(spec.name == name for name, spec in specs.items())
    encoded = {name for name, spec in specs.items() if spec.encodes}
    assert encoded == {"visual", "textual", "prompt1", "prompt2", "original", "mmrec_original"}
    assert get_spec("dual").reuses == get_spec("dual_concat").reuses == ("visual", "textual")


def test_schema_lists_every_registered_strategy() -> None:
    schema = yaml.safe_load((REPO_ROOT / "config" / "schema.yaml").read_text())
    names = schema["properties"]["features"]["properties"]["strategies"]["items"]["enum"]
    assert sorted(names) == sorted(STRATEGY_MODULES)


def test_unknown_strategy_names_the_key() -> None:
    with pytest.raises(ValueError, match="features.strategies"):
        get_spec("prompt3")


def test_params_hold_only_what_a_strategy_reads(features_config: dict) -> None:
    p2 = strategy_params("prompt2", features_config)
    assert p2["prompt"] == features_config["prompts"]["prompt2"]
    assert set(p2) == {"prompt", "vlm2vec", "runner", "missing_image_fused"}
    assert "shard_size" not in p2["vlm2vec"] and p2["runner"]["shard_size"] == 5
    assert set(strategy_params("textual", features_config)) == {"prompt", "vlm2vec", "runner"}
    assert set(strategy_params("original", features_config)) == {"resnet", "text", "runner"}
    assert strategy_params("dual", features_config) == {}
    del features_config["prompts"]["prompt1"]
    with pytest.raises(ValueError, match="features.prompts.prompt1"):
        strategy_params("prompt1", features_config)


def test_applicability() -> None:
    amazon = {"source": "amazon2014", "image_features_url": "file:x.b"}
    assert strategy_applies("mmrec_original", amazon)
    assert not strategy_applies("mmrec_original", {"source": "amazon2018"})
    assert not strategy_applies("provided", amazon)
    assert strategy_applies("provided", {"source": "mmrec", "path": "x"})
    assert strategy_applies("visual", {"source": "mmrec", "path": "x"})


@pytest.mark.parametrize("command", ["build-tiny-models", "extract", "combine", "export-mmrec"])
def test_cli_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    from vlmrec.cli import build_parser

    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([command, "--help"])
    assert done.value.code == 0
    assert f"vlmrec {command}" in capsys.readouterr().out


def test_cli_combine_and_export(tmp_path, features_config) -> None:
    """`combine` and `export-mmrec` build the workflow's files from the command line."""
    import numpy as np
    import pandas as pd
    from feature_fakes import FakeFactory, make_items

    from vlmrec.cli import main
    from vlmrec.features.registry import build_feature_set

    root = tmp_path / "results" / "demo_baby"
    items = make_items(root)
    for strategy in ("visual", "textual"):
        params = strategy_params(strategy, features_config)
        build_feature_set(
            strategy, items, root / "features" / strategy, params, encoder_factory=FakeFactory()
        )
    config = str(REPO_ROOT / "config" / "demo.yaml")
    results = str(tmp_path / "results")
    base = ["--config", config, "--dataset", "demo_baby", "--results-dir", results]
    assert main(["combine", *base, "--strategy", "dual_concat"]) == 0
    assert np.load(root / "features" / "dual_concat" / "fused.npy").shape == (12, 16)
    assert main(["extract", *base, "--strategy", "dual"]) == 1  # dual is built with `combine`
    assert main(["combine", *base[:3], "nope", "--strategy", "dual"]) == 1
    pd.DataFrame(
        {"user_id": [0], "item_id": [1], "rating": [5.0], "timestamp": [7], "split": ["train"]}
    ).to_parquet(root / "interactions.parquet")
    args = ["export-mmrec", "--dataset", "demo_baby", "--strategy", "dual_concat", "--results-dir", results]
    assert main(args) == 0
    assert (root / "mmrec" / "dual_concat" / "demo_baby.inter").read_text().splitlines()[
        1
    ] == "0\t1\t5.0\t7\t0"
