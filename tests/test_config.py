"""Configuration validation: both shipped configs are valid; bad keys/values fail naming the key."""

from __future__ import annotations

import copy

import pytest
import yaml

from vlmrec.config import ConfigError, load_config, prepare_config, validate_config


@pytest.mark.parametrize("name", ["config.yaml", "demo.yaml"])
def test_shipped_configs_are_valid(repo_root, name):
    config = load_config(repo_root / "config" / name)
    assert config["datasets"]
    # defaults are filled in
    assert config["training"]["select_on"] in {"valid", "test"}


def _demo(repo_root):
    with open(repo_root / "config" / "demo.yaml") as handle:
        return yaml.safe_load(handle)


def test_unknown_key_is_named(repo_root):
    config = _demo(repo_root)
    config["training"]["selct_on"] = "valid"
    with pytest.raises(ConfigError, match=r"training: .*selct_on"):
        validate_config(config)


def test_bad_value_names_its_dotted_path(repo_root):
    config = _demo(repo_root)
    config["split"]["method"] = "temporal"
    with pytest.raises(ConfigError, match=r"split\.method"):
        validate_config(config)


def test_bad_dataset_source_is_named(repo_root):
    config = _demo(repo_root)
    bad = copy.deepcopy(config)
    bad["datasets"]["demo_baby"]["source"] = "amazon2020"
    with pytest.raises(ConfigError, match=r"datasets\.demo_baby\.source"):
        validate_config(bad)


def test_mmrec_source_requires_path(repo_root):
    config = _demo(repo_root)
    config["datasets"]["released"] = {"source": "mmrec"}
    with pytest.raises(ConfigError, match=r"datasets\.released.*path"):
        validate_config(config)


def test_grid_values_must_be_lists(repo_root):
    # MMRec silently turns a scalar 0.0 into [None]; we refuse it.
    config = _demo(repo_root)
    config["models"]["freedom"]["grid"]["reg_weight"] = 0.0
    with pytest.raises(ConfigError, match=r"models\.freedom\.grid\.reg_weight"):
        validate_config(config)


def test_yaml_syntax_error_names_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("datasets: [unclosed\n")
    with pytest.raises(ConfigError, match="broken.yaml"):
        load_config(path)


# ------------------------------------------------------------- checks a schema cannot make
def _refused(config, *fragments: str) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert len(message.splitlines()) <= 3, message  # one line per problem, no schema dump
    return message


@pytest.mark.parametrize(
    ("section", "key", "value", "fragments"),
    [
        (
            "models.freedom.grid",
            "dropuot",
            [0.5],
            ["models.freedom.grid.dropuot", "did you mean dropout?", "knn_k"],
        ),
        ("models.lightgcn.params", "n_layer", 2, ["models.lightgcn.params.n_layer", "n_layers"]),
        (
            "training",
            "valid_metric",
            "recall@30",
            ["training.valid_metric: recall@30 needs k=30", "5, 10, 20, 50"],
        ),
        ("report", "k", [25], ["report.k: 25"]),
        (
            "report",
            "baseline_feature",
            "visuall",
            ["report.baseline_feature: 'visuall'", "did you mean visual?"],
        ),
    ],
    ids=["grid-key", "params-key", "valid-metric-k", "report-k", "baseline"],
)
def test_plan_time_checks_name_key_value_and_choices(repo_root, section, key, value, fragments):
    config = _demo(repo_root)
    node = config
    for part in section.split("."):
        node = node[part]
    node[key] = value
    _refused(config, *fragments)


def test_default_baseline_may_be_absent(repo_root):
    """The default `original` is not required: without it the table has no relative column."""
    config = _demo(repo_root)
    del config["report"]["baseline_feature"]
    config["features"]["strategies"] = ["visual"]
    config["split"]["cold_strategies"] = ["visual"]
    config["models"] = {"freedom": config["models"]["freedom"]}
    assert validate_config(config)["report"]["baseline_feature"] == "original"


def test_unknown_model_and_strategy_list_the_known_ones(repo_root):
    config = _demo(repo_root)
    config["models"]["freedm"] = config["models"].pop("freedom")
    _refused(config, "models.freedm: unknown model (did you mean freedom?)", "lightgcn")
    config = _demo(repo_root)
    config["features"]["strategies"].append("txtual")
    _refused(config, "unknown strategy 'txtual'", "textual")


def test_features_flag_must_agree_with_the_model_class(repo_root):
    config = _demo(repo_root)
    config["models"]["lightgcn"]["features"] = True
    _refused(config, "models.lightgcn.features", "uses_features=False")


def test_model_strategies_are_a_subset(repo_root):
    config = _demo(repo_root)
    config["models"]["freedom"]["strategies"] = ["visual", "prompt9"]
    _refused(config, "models.freedom.strategies: 'prompt9'")
    config = _demo(repo_root)
    config["models"]["lightgcn"]["strategies"] = ["visual"]
    _refused(config, "models.lightgcn.strategies", "uses no item features")


def test_model_strategies_choose_the_cells(repo_root):
    from vlmrec.layout import cells

    config = _demo(repo_root)
    config["models"] = {k: config["models"][k] for k in ("freedom", "lightgcn")}
    config["models"]["freedom"]["strategies"] = ["textual", "visual"]
    validate_config(config)
    # config order of features.strategies, not the order of the model's list
    assert [c for c in cells(config) if c[0] == "demo_baby"] == [
        ("demo_baby", "freedom", "visual"),
        ("demo_baby", "freedom", "textual"),
        ("demo_baby", "lightgcn", "id"),
    ]


def test_strategy_needs_dataset_content(repo_root):
    config = _demo(repo_root)
    config["datasets"]["release"] = {"source": "mmrec", "path": "data/release"}
    message = _refused(config, "datasets.release: has no item", "visual", "meta_url")
    assert "provided" not in message
    config["datasets"]["release"]["meta_url"] = "file:meta.json.gz"
    config["datasets"]["release"]["images"] = False
    _refused(config, "datasets.release: has no item images", "visual")


def test_reused_strategies_must_be_selected(repo_root):
    config = _demo(repo_root)
    config["features"]["strategies"] = ["original", "dual"]
    config["split"]["cold_strategies"] = ["original"]
    for entry in config["models"].values():
        entry.pop("strategies", None)
    _refused(config, "'dual' is built from visual, textual")


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        (
            "cold_strategies",
            ["textual", "txtual"],
            "split.cold_strategies: 'txtual' is not in features.strategies",
        ),
        ("cold_datasets", ["demo_babby"], "split.cold_datasets: 'demo_babby' is not among datasets"),
    ],
    ids=["strategy", "dataset"],
)
def test_cold_start_subsets_are_checked(repo_root, key, value, fragment):
    config = _demo(repo_root)
    config["split"][key] = value
    message = _refused(config, fragment)
    assert "did you mean" in message
    config["split"]["cold_items"] = 0.0  # protocol off: its subsets are not read
    validate_config(config)


@pytest.mark.parametrize(
    ("slicing", "fragment"),
    [
        ({"edges": [0.6, 0.2]}, "training.slices.item_popularity.edges: must increase strictly"),
        ({"edges": [0.3], "names": ["a", "b", "c"]}, "training.slices.item_popularity.names: needs 2 names"),
    ],
    ids=["edges-order", "names-count"],
)
def test_slice_edges_and_names_are_checked(repo_root, slicing, fragment):
    config = _demo(repo_root)
    config["training"]["slices"] = {"item_popularity": slicing}
    _refused(config, fragment)
    config["training"]["slices"] = {"item_popularity": {"edges": [0.1, 0.5], "names": ["h", "t", "l"]}}
    validate_config(config)


def test_schema_errors_are_one_line_each(repo_root):
    config = _demo(repo_root)
    config["training"]["epochs"] = {"nested": list(range(500))}
    message = _refused(config, "training.epochs: got", "expected integer")
    assert len(message) < 300


def test_command_line_overrides_are_read_as_yaml(repo_root):
    """Snakemake hands `--config 'training={epochs: 5}'` over as strings, deep-merged."""
    config = _demo(repo_root)
    overrides = {"training": {"epochs": "5", "seeds": ["1", "2"], "mask_valid_at_test": "true"}}
    config["training"].update(overrides["training"])
    config["features"]["prompts"]["textual"] = "{text}"  # a string that YAML would read as a map
    overrides["features"] = {"prompts": {"textual": "{text}"}}
    prepared = prepare_config(config, overrides)
    assert prepared["training"]["epochs"] == 5 and prepared["training"]["seeds"] == [1, 2]
    assert prepared["training"]["mask_valid_at_test"] is True
    assert prepared["features"]["prompts"]["textual"] == "{text}"
    assert prepared["training"]["patience"] == 5  # from the file
