"""The strategy registry: specs, params per strategy, applicability, CLI."""

from __future__ import annotations

import pytest
import yaml

from vlmrec.config import REPO_ROOT
from vlmrec.features.registry import (
    all_specs,
    get_spec,
    strategy_applies,
    strategy_params,
)
from vlmrec.features.specs import known_strategy_names, strategy_spec

MODALITIES = {"image", "text", "fused"}
STRATEGY_MODULES = REPO_ROOT / "src" / "vlmrec" / "features" / "strategies"


def module_files() -> set[str]:
    """Public modules of vlmrec/features/strategies (helpers start with `_`)."""
    return {p.stem for p in STRATEGY_MODULES.glob("*.py") if not p.stem.startswith("_")}


def test_every_strategy_has_a_usable_spec() -> None:
    """Derived from the registry, so a new strategy module needs no edit here, only a sound SPEC."""
    specs = all_specs()
    assert set(specs) == set(known_strategy_names())
    for name, spec in specs.items():
        assert spec.name == name
        assert spec.modalities and set(spec.modalities) <= MODALITIES, name
        assert len(set(spec.modalities)) == len(spec.modalities), name
        assert not (spec.encodes and spec.reuses), f"{name}: encodes or reuses, not both"
        assert set(spec.reuses) <= set(specs) - {name}, f"{name} reuses an unknown strategy"
        if spec.prompt_key is not None:
            assert spec.encodes, f"{name}: a prompt only matters to an encoder"
    # Two contracts the workflow relies on (built from other feature sets, no encoding).
    assert get_spec("dual").reuses == get_spec("dual_concat").reuses == ("visual", "textual")
    assert not get_spec("dual").encodes and get_spec("visual").encodes


def test_module_strategies_are_found_by_package_scan() -> None:
    """Every public module of vlmrec/features/strategies is a strategy; helpers (_*) are not."""
    assert set(all_specs()) == module_files()
    schema = yaml.safe_load((REPO_ROOT / "config" / "schema.yaml").read_text())
    items = schema["properties"]["features"]["properties"]["strategies"]["items"]
    assert "enum" not in items  # names are checked against the registry, not restated


@pytest.mark.parametrize("name", ["config.yaml", "demo.yaml"])
def test_configured_strategies_resolve(name: str) -> None:
    """Every strategy the shipped configs select is known (module or features.declared)."""
    features = yaml.safe_load((REPO_ROOT / "config" / name).read_text())["features"]
    known = set(known_strategy_names(features))
    assert features["strategies"] and set(features["strategies"]) <= known
    for strategy in features["strategies"]:
        assert strategy_spec(strategy, features).name == strategy


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
