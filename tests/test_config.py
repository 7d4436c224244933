"""Configuration validation: both shipped configs are valid; bad keys/values fail naming the key."""

from __future__ import annotations

import copy

import pytest
import yaml

from vlmrec.config import ConfigError, load_config, validate_config


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
