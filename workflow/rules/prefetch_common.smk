# Helpers of prefetch.smk: what `snakemake prefetch` fetches.


def prefetch_data_files():
    """Every network download of the data stage: raw files and the candidate items' images."""
    files = []
    for dataset in DATASETS:
        cfg = dataset_config(dataset)
        raw = f"{RESULTS}/{dataset}/raw"
        if cfg["source"] != "mmrec":
            files += [f"{raw}/ratings.csv", f"{raw}/meta.json.gz"]
            files.append(f"{RESULTS}/{dataset}/images/manifest.parquet")
        elif cfg.get("meta_url"):
            files.append(f"{raw}/meta.json.gz")
            manifest = mmrec_content_inputs(dataset).get("manifest")
            files += [manifest] if manifest else []
        if image_features_wanted(dataset):
            files.append(f"{raw}/{IMAGE_FEATURES_FILE}")
    return files
