"""`snakemake prefetch`: fetch everything from the network on a login node, before compute jobs run.

Many clusters have no internet on their compute nodes. The `prefetch` target (workflow/rules/
prefetch.smk) runs, where Snakemake runs, the data stage's download rules (ratings, metadata, CNN
features, images) and the rule `prefetch_models`, which calls `prefetch_models` here: a
`huggingface_hub.snapshot_download` of every Hugging Face model the `features` section names, at
the revision the config pins. Local directories and `package:` models are skipped (nothing to
fetch). Afterwards compute jobs run with `HF_HUB_OFFLINE=1` and load from the local hub cache.

Which values are models: every `model` and `adapter` string anywhere under `features` (so the
encoders of any strategy are found without a list to keep in sync), with the `revision` /
`adapter_revision` of the same section. An adapter's base model (`base_model_name_or_path` in its
`adapter_config.json`) is fetched too.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vlmrec.utils.io import write_json

log = logging.getLogger(__name__)

PACKAGE_PREFIX = "package:"
# `owner/name` or a bare legacy name such as `bert-base-uncased`; adapters may add `/subfolder`.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_LOCAL_PREFIXES = ("/", "./", "../", "~", "resources/", "file:")


@dataclass(frozen=True)
class HubModel:
    """One repository to snapshot: where the config names it, id, pinned revision, subfolder."""

    key: str
    repo_id: str
    revision: str | None = None
    subfolder: str | None = None


def _is_local(value: str) -> bool:
    return value.startswith(_LOCAL_PREFIXES) or Path(value).expanduser().exists()


def _hub_model(key: str, value: Any, revision: Any, allow_subfolder: bool) -> HubModel | None:
    """A config value as a hub repository, or None for empty, local or `package:` values."""
    if not isinstance(value, str) or not value or value.startswith(PACKAGE_PREFIX) or _is_local(value):
        return None
    parts = value.split("/")
    repo_id, subfolder = "/".join(parts[:2]), "/".join(parts[2:]) or None
    if subfolder and not allow_subfolder:
        raise ValueError(f"{key}: {value!r} is neither a local directory nor a hub id (owner/name)")
    if not _HUB_ID.match(repo_id):
        raise ValueError(f"{key}: {value!r} is neither a local directory nor a hub id (owner/name)")
    return HubModel(key, repo_id, str(revision) if revision else None, subfolder)


def _sections(node: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(node, Mapping):
        yield path, node
        for name, child in node.items():
            yield from _sections(child, f"{path}.{name}")


def hub_models(features_config: Mapping[str, Any]) -> list[HubModel]:
    """Every hub repository the `features` section names (first mention wins), in config order."""
    found: dict[tuple[str, str | None], HubModel] = {}
    for path, section in _sections(features_config, "features"):
        candidates = [
            _hub_model(f"{path}.model", section.get("model"), section.get("revision"), False),
            _hub_model(
                f"{path}.adapter",
                section.get("adapter"),
                section.get("adapter_revision"),
                True,
            ),
        ]
        for model in candidates:
            if model is not None:
                found.setdefault((model.repo_id, model.revision), model)
    return list(found.values())


def _adapter_base(snapshot_dir: Path, subfolder: str | None) -> str | None:
    config = snapshot_dir / (subfolder or "") / "adapter_config.json"
    if not config.is_file():
        return None
    return json.loads(config.read_text()).get("base_model_name_or_path")


def _commit_of(snapshot_dir: Path) -> str | None:
    # The hub cache lays snapshots out as .../snapshots/<commit sha>/.
    return snapshot_dir.name if snapshot_dir.parent.name == "snapshots" else None


def snapshot_all(
    models: list[HubModel], snapshot: Callable[..., str] | None = None, cache_dir: str | None = None
) -> list[dict[str, Any]]:
    """Snapshot each repository (and any adapter's base model); one record per repository."""
    if snapshot is None:
        if models and os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
            raise RuntimeError(
                "prefetch needs the Hugging Face hub, but HF_HUB_OFFLINE is set: unset it for "
                "`snakemake prefetch` (set it for the compute jobs afterwards)"
            )
        from huggingface_hub import snapshot_download as snapshot
    queue, done, records = list(models), set(), []
    while queue:
        model = queue.pop(0)
        if (model.repo_id, model.revision) in done:
            continue
        done.add((model.repo_id, model.revision))
        if model.revision is None:
            log.warning("%s: %s: no pinned revision, fetching the default branch", model.key, model.repo_id)
        log.info("snapshot %s (revision %s) for %s", model.repo_id, model.revision or "default", model.key)
        path = Path(snapshot(model.repo_id, revision=model.revision, cache_dir=cache_dir))
        records.append({**asdict(model), "path": str(path), "commit": _commit_of(path)})
        base = _adapter_base(path, model.subfolder)
        if base and not _is_local(base):
            queue.append(HubModel(f"{model.key} (base of the adapter)", base))
    return records


def prefetch_models(
    features_config: Mapping[str, Any],
    out_json: str | Path,
    snapshot: Callable[..., str] | None = None,
    cache_dir: str | None = None,
) -> list[dict[str, Any]]:
    """Snapshot every configured hub model; write the records (id, revision, commit, path)."""
    records = snapshot_all(hub_models(features_config), snapshot, cache_dir)
    write_json(out_json, {"models": records})
    if not records:
        log.info("no hub models configured (local directories and package: models only)")
    for record in records:
        log.info("%s -> %s (commit %s)", record["repo_id"], record["path"], record["commit"])
    return records
