# Helpers of the data stage (data.smk): config sections, inputs of the download/build rules.
import os

from vlmrec.data.sources import IMAGE_FEATURES_FILE
from vlmrec.features.specs import strategy_spec
from vlmrec.layout import mmrec_inter_file

# Dict params are compared by their repr: sort keys so reordering the YAML reruns nothing.
DOWNLOAD = dict(sorted(config["download"].items()))
IMAGES = config["images"]
PREPROCESS = config["preprocess"]
SPLIT = config["split"]


def data_source(dataset):
    return dataset_config(dataset)["source"]


def demo_output(dataset, name):
    """A file written by demo_data for a dataset with a `demo:` key."""
    category = dataset_config(dataset)["category"]
    names = {
        "ratings_url": f"ratings_{category}.csv",
        "meta_url": f"meta_{category}.json.gz",
        "image_features_url": f"image_features_{category}.b",
        "images": f"images_{category}",
    }
    return f"resources/demo/{dataset}/{names[name]}"


def download_input(key):
    """Input of a download rule: a `file:` URL's local file (so edits rerun the download), and
    for demo datasets the demo_data outputs (so the generator runs first)."""

    def inputs(wildcards):
        cfg = dataset_config(wildcards.dataset)
        url = cfg.get(key, "")
        files = []
        if "demo" in cfg:
            files.append(demo_output(wildcards.dataset, key))
        elif url.startswith("file:"):
            rest = url[len("file:") :]
            files.append(rest[2:] if rest.startswith("///") else rest)
        return files

    return inputs


def image_features_wanted(dataset):
    """The amazon2014 `.b` CNN features are fetched only when a configured strategy reads them
    (its spec's `raw_inputs`)."""
    cfg = dataset_config(dataset)
    return "image_features_url" in cfg and any(
        IMAGE_FEATURES_FILE in strategy_spec(s, config["features"]).raw_inputs
        for s in STRATEGIES
    )


def mmrec_mapping_file(dataset):
    return dataset_config(dataset)["item_mapping_file"]


def mmrec_mapping_path(wildcards):
    return os.path.join(
        dataset_config(wildcards.dataset)["path"], mmrec_mapping_file(wildcards.dataset)
    )


def mmrec_content_inputs(dataset):
    """An mmrec dataset with `meta_url`: the joined metadata and (unless `images: false`) images."""
    cfg = dataset_config(dataset)
    if not cfg.get("meta_url"):
        return {}
    files = {"items_meta": f"{RESULTS}/{dataset}/interim/mmrec_items_meta.parquet"}
    if cfg["images"]:
        files["manifest"] = f"{RESULTS}/{dataset}/images/manifest.parquet"
    return files


def build_options(dataset):
    """The BuildOptions of vlmrec.data.build for one dataset: one param, passed whole."""
    cfg = dataset_config(dataset)
    return {
        "k_core": PREPROCESS["k_core"],
        "text_template": PREPROCESS["text_template"],
        "category_level": PREPROCESS["category_level"],
        "split_method": SPLIT["method"],
        "split_seed": SPLIT["seed"],
        "missing_policy": IMAGES["missing_policy"],
        "source": cfg["source"],
        "expected_stats": dict(sorted(cfg["expected_stats"].items())),
        "item_mapping_file": mmrec_mapping_file(dataset),
    }


def mmrec_release(dataset):
    """An mmrec dataset's folder and .inter file name (None for the other sources)."""
    cfg = dataset_config(dataset)
    if cfg["source"] != "mmrec":
        return None
    return {"path": cfg["path"], "inter_file": mmrec_inter_file(dataset, cfg)}


def build_inputs(wildcards):
    cfg = dataset_config(wildcards.dataset)
    if cfg["source"] == "mmrec":
        inter = mmrec_inter_file(wildcards.dataset, cfg)
        return {
            "inter": os.path.join(cfg["path"], inter),
            **mmrec_content_inputs(wildcards.dataset),
        }
    return {
        "interactions": f"{RESULTS}/{wildcards.dataset}/interim/kcore.parquet",
        "items_meta": f"{RESULTS}/{wildcards.dataset}/interim/items_meta.parquet",
        "manifest": f"{RESULTS}/{wildcards.dataset}/images/manifest.parquet",
    }


def images_input(wildcards):
    if data_source(wildcards.dataset) == "mmrec":
        return {"items_meta": mmrec_content_inputs(wildcards.dataset)["items_meta"]}
    files = {"items_meta": f"{RESULTS}/{wildcards.dataset}/interim/items_meta.parquet"}
    if "demo" in dataset_config(wildcards.dataset):
        files["demo_images"] = demo_output(wildcards.dataset, "images")
    return files
