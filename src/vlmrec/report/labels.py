"""Display names and row order of the comparison table (the paper's Table 2 layout)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# The paper's row order; strategies it did not have come after, then the ID-only row.
PAPER_FEATURE_ORDER = ("original", "visual", "textual", "prompt1", "prompt2", "dual", "dual_concat")
ID_FEATURE = "id"

FEATURE_LABELS = {
    "original": "Original",
    "visual": "Visual",
    "textual": "Textual",
    "prompt1": "Prompt#1",
    "prompt2": "Prompt#2",
    "dual": "Dual",
    "dual_concat": "Dual-concat",
    "mmrec_original": "MMRec-original",
    "provided": "Provided",
    ID_FEATURE: "ID only",
}
MODEL_LABELS = {
    "freedom": "FREEDOM",
    "lattice": "LATTICE",
    "lightgcn": "LightGCN",
    "vbpr": "VBPR",
    "bm3": "BM3",
    "mgcn": "MGCN",
    "lgmrec": "LGMRec",
    "itemknncbf": "ItemKNNCBF",
}
# Encoder-family prefixes of config-declared strategies (clip_visual -> CLIP-Visual).
PREFIX_LABELS = {"clip": "CLIP", "siglip": "SigLIP", "blip": "BLIP", "vlm2vec": "VLM2Vec", "st": "ST"}
PREFIX_LABELS["siglip2"] = "SigLIP2"  # the paper config's SigLIP 2 strategies (siglip2_mean, ...)
METRIC_ABBREVIATIONS = {"recall": "R", "ndcg": "N", "precision": "P", "map": "MAP", "hit": "H"}


def feature_label(feature: str) -> str:
    """Paper names for the paper's strategies; `clip_dual` -> `CLIP-Dual`, `my_set` -> `My-set`."""
    if feature in FEATURE_LABELS:
        return FEATURE_LABELS[feature]
    prefix, _, rest = feature.partition("_")
    if prefix in PREFIX_LABELS and rest:
        return f"{PREFIX_LABELS[prefix]}-" + "-".join(FEATURE_LABELS.get(rest, rest.capitalize()).split("_"))
    return feature.replace("_", "-").capitalize()


def model_label(model: str) -> str:
    return MODEL_LABELS.get(model, model.upper())


def metric_label(metric: str, k: int) -> str:
    """`recall`, 20 -> `R@20` (the paper's column names)."""
    return f"{METRIC_ABBREVIATIONS.get(metric, metric)}@{k}"


def metric_key(metric: str, k: int) -> str:
    """The training stage's metric key: `recall@20`."""
    return f"{metric}@{k}"


def feature_order(features: Iterable[str], configured: Sequence[str] = ()) -> list[str]:
    """Paper order first, then other strategies in config order (else by name), `id` last."""
    features = list(dict.fromkeys(features))
    extra_rank = {name: i for i, name in enumerate(configured)}

    def key(feature: str) -> tuple[int, int, str]:
        if feature in PAPER_FEATURE_ORDER:
            return (0, PAPER_FEATURE_ORDER.index(feature), feature)
        if feature == ID_FEATURE:
            return (2, 0, feature)
        return (1, extra_rank.get(feature, len(extra_rank)), feature)

    return sorted(features, key=key)


def ordered(values: Iterable[str], preferred: Sequence[str] = ()) -> list[str]:
    """`values` in the `preferred` order (config order), unknown ones after it by name."""
    values = list(dict.fromkeys(values))
    rank = {name: i for i, name in enumerate(preferred)}
    return sorted(values, key=lambda v: (rank.get(v, len(rank)), v))
