"""The results layout, once: every path under ``results_dir`` and the experiment's list of cells.

The Snakemake rules, the scripts, the CLIs and the report all ask this module where a file lives,
so a name is spelled here only (docs/ARCHITECTURE.md shows the tree). Every function takes plain
strings, so passing Snakemake wildcards (``"{dataset}"``) gives the rule's path pattern:
``Layout("results").cell_dir("{dataset}", "{model}", "{feature}")``.

Torch-free: the Snakemake scheduler imports it at plan time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The feature name of ID-only models' cells (LightGCN): one "feature" column, no item features.
NO_FEATURE = "id"

# The data contract's files in results/{dataset}/ (docs/ARCHITECTURE.md, "Data stage").
DATA_FILES = {
    "interactions": "interactions.parquet",
    "items_table": "items.parquet",
    "stats": "stats.json",
    "user_map": "user_map.csv",
    "item_map": "item_map.csv",
}
# A cell's outputs (results/{dataset}/runs/{model}/{feature}/) and a grid point's, by role.
CELL_FILES = {
    "metrics": "metrics.json",
    "per_user": "per_user_test.parquet",
    "curve": "curve.csv",
    "checkpoint": "best.pt",
    "recommendations": "recommendations.parquet",
}
POINT_SUFFIXES = {
    "result": ".json",
    "per_user": ".per_user_test.parquet",
    "curve": ".curve.csv",
    "checkpoint": ".pt",
    "recommendations": ".recommendations.parquet",
}
# The cell-level name of each point role (select_cell copies the winner's point files).
POINT_TO_CELL = {"result": "metrics", **{role: role for role in POINT_SUFFIXES if role != "result"}}
TABLE_FORMATS = ("csv", "md", "tex", "html")
PLOT_KINDS = ("bars", "curves", "dims", "cost")
PLOT_FORMATS = ("png", "svg")
MMREC_FEATURE_FILES = ("image_feat.npy", "text_feat.npy")


@dataclass(frozen=True)
class Layout:
    """Paths under one results directory (``config["results_dir"]``)."""

    results: str = "results"

    # ----------------------------------------------------------------------------- data stage
    def dataset_dir(self, dataset: str) -> str:
        return f"{self.results}/{dataset}"

    def data_file(self, dataset: str, role: str) -> str:
        """One of DATA_FILES (interactions, items_table, stats, user_map, item_map)."""
        return f"{self.dataset_dir(dataset)}/{DATA_FILES[role]}"

    def data_files(self, dataset: str) -> dict[str, str]:
        return {role: self.data_file(dataset, role) for role in DATA_FILES}

    def raw_file(self, dataset: str, name: str) -> str:
        """Downloaded or copied raw files (ratings.csv, meta.json.gz, image_features.b, *_feat.npy)."""
        return f"{self.dataset_dir(dataset)}/raw/{name}"

    def raw_dir(self, dataset: str) -> str:
        return f"{self.dataset_dir(dataset)}/raw"

    def interim_file(self, dataset: str, name: str) -> str:
        """filter_interactions' outputs: kcore.parquet, items_meta.parquet."""
        return f"{self.dataset_dir(dataset)}/interim/{name}"

    def images_manifest(self, dataset: str) -> str:
        return f"{self.dataset_dir(dataset)}/images/manifest.parquet"

    # ------------------------------------------------------------------------- feature stage
    def feature_dir(self, dataset: str, strategy: str) -> str:
        return f"{self.dataset_dir(dataset)}/features/{strategy}"

    def shards_dir(self, dataset: str) -> str:
        """The resumable shard cache: outside every job's outputs (Snakemake deletes those on failure)."""
        return f"{self.dataset_dir(dataset)}/features/.shards"

    def mmrec_export_files(self, dataset: str, strategy: str) -> dict[str, str]:
        out = f"{self.dataset_dir(dataset)}/mmrec/{strategy}"
        return {
            "inter": f"{out}/{dataset}.inter",
            "image": f"{out}/{MMREC_FEATURE_FILES[0]}",
            "text": f"{out}/{MMREC_FEATURE_FILES[1]}",
        }

    # ------------------------------------------------------------------------ training stage
    def cell_dir(self, dataset: str, model: str, feature: str) -> str:
        return f"{self.dataset_dir(dataset)}/runs/{model}/{feature}"

    def cell_file(self, dataset: str, model: str, feature: str, role: str) -> str:
        return f"{self.cell_dir(dataset, model, feature)}/{CELL_FILES[role]}"

    def cell_files(self, dataset: str, model: str, feature: str) -> dict[str, str]:
        """A cell's outputs by role (metrics, per_user, curve, checkpoint, recommendations)."""
        return {role: self.cell_file(dataset, model, feature, role) for role in CELL_FILES}

    def point_files(self, dataset: str, model: str, feature: str, point: str) -> dict[str, str]:
        """A grid point's files in ``<cell>/points/`` by role (result, per_user, ...)."""
        return point_files_in(f"{self.cell_dir(dataset, model, feature)}/points", point)

    # -------------------------------------------------------------------------- report stage
    def table_file(self, fmt: str, partial: bool = False) -> str:
        return f"{self.results}/{'partial/' if partial else ''}table.{fmt}"

    def table_files(self, partial: bool = False) -> dict[str, str]:
        """The aggregate outputs by name (csv, md, tex, html, significance)."""
        files = {fmt: self.table_file(fmt, partial) for fmt in TABLE_FORMATS}
        files["significance"] = f"{self.results}/{'partial/' if partial else ''}significance.csv"
        # The same tests as an HTML table: what the Snakemake report shows inline.
        files["significance_html"] = f"{self.results}/{'partial/' if partial else ''}significance.html"
        return files

    def paper_comparison(self, fmt: str = "md") -> str:
        """Ours next to report.paper_table: ``md`` (for people, git) or ``html`` (the report)."""
        return f"{self.results}/paper_comparison.{fmt}"

    def plot_file(self, dataset: str, kind: str, fmt: str) -> str:
        return f"{self.results}/plots/{dataset}/{kind}.{fmt}"

    # ---------------------------------------------------------------------- job bookkeeping
    def log_file(self, rule: str, job: str) -> str:
        """One log per job: ``logs/<rule>/<job>.log`` under results_dir (configs never share logs)."""
        return f"{self.results}/logs/{rule}/{job}.log"

    def benchmark_file(self, rule: str, job: str) -> str:
        """Snakemake's benchmark TSV of a job (wall time, peak memory): read by the rehearsal."""
        return f"{self.results}/benchmarks/{rule}/{job}.tsv"


def point_files_in(points_dir: str, point: str) -> dict[str, str]:
    """A grid point's files in any folder (the cell's ``points/`` or train_cell's scratch)."""
    return {role: f"{points_dir}/{point}{suffix}" for role, suffix in POINT_SUFFIXES.items()}


def mmrec_inter_file(dataset: str, entry: Mapping[str, Any]) -> str:
    """The .inter file of an mmrec release folder: `inter_file`, default `<dataset>.inter`."""
    return str(entry.get("inter_file") or f"{dataset}.inter")


def layout_of(config: Mapping[str, Any]) -> Layout:
    return Layout(str(config.get("results_dir", "results")).rstrip("/") or ".")


# ------------------------------------------------------------------------- the experiment
def model_strategies(config: Mapping[str, Any], model: str) -> list[str]:
    """Feature sets a model is trained on: its ``strategies`` (default every configured one), or
    ``[NO_FEATURE]`` for ID-only models (read from the model class, not from the config)."""
    from vlmrec.models.registry import model_declaration

    if not model_declaration(model).uses_features:
        return [NO_FEATURE]
    entry = config["models"][model] or {}
    chosen = entry.get("strategies")
    every = list(config["features"]["strategies"])
    return every if chosen is None else [s for s in every if s in chosen]


def strategy_applies(config: Mapping[str, Any], dataset: str, strategy: str) -> bool:
    """Whether a strategy can be built for a dataset (e.g. `provided` needs an mmrec source)."""
    from vlmrec.features.specs import strategy_applies as applies

    return applies(strategy, config["datasets"][dataset], config["features"])


def cells(config: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Every (dataset, model, feature) cell of the comparison table, in config order.

    The one list the rules (rule `all`, `aggregate`) and the report CLI use; a strategy that does
    not apply to a dataset gives no cell.
    """
    return [
        (dataset, model, feature)
        for dataset in config["datasets"]
        for model in config["models"]
        for feature in model_strategies(config, model)
        if feature == NO_FEATURE or strategy_applies(config, dataset, feature)
    ]


def table_features(config: Mapping[str, Any]) -> list[str]:
    """Column order of the table: the configured strategies, then the ID-only feature."""
    return [*config["features"]["strategies"], NO_FEATURE]
