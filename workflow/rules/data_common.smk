# Helpers of the data stage (data.smk): config sections, inputs of the download/build rules,
# and data_targets() for other stages.
import os

# Dict params are compared by their repr: sort keys so reordering the YAML reruns nothing.
DOWNLOAD = dict(sorted(config.get("download", {}).items()))
IMAGES = config.get("images", {})
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
    """The amazon2014 `.b` CNN features are fetched only for the mmrec_original strategy."""
    cfg = dataset_config(dataset)
    return "image_features_url" in cfg and "mmrec_original" in STRATEGIES


def data_targets(dataset):
    """Every output of the data stage for one dataset (what the feature stage may need)."""
    files = [
        f"{RESULTS}/{dataset}/{name}"
        for name in (
            "interactions.parquet",
            "items.parquet",
            "stats.json",
            "user_map.csv",
            "item_map.csv",
        )
    ]
    if image_features_wanted(dataset):
        files.append(f"{RESULTS}/{dataset}/raw/image_features.b")
    return files


def build_inputs(wildcards):
    cfg = dataset_config(wildcards.dataset)
    if cfg["source"] == "mmrec":
        inter = cfg.get("inter_file", f"{wildcards.dataset}.inter")
        return {"inter": os.path.join(cfg["path"], inter)}
    return {
        "interactions": f"{RESULTS}/{wildcards.dataset}/interim/kcore.parquet",
        "items_meta": f"{RESULTS}/{wildcards.dataset}/interim/items_meta.parquet",
        "manifest": f"{RESULTS}/{wildcards.dataset}/images/manifest.parquet",
    }


def images_input(wildcards):
    files = {"items_meta": f"{RESULTS}/{wildcards.dataset}/interim/items_meta.parquet"}
    if "demo" in dataset_config(wildcards.dataset):
        files["demo_images"] = demo_output(wildcards.dataset, "images")
    return files
