# Stage: data. Raw files -> k-core candidates -> images -> the split dataset of the data contract
# (docs/ARCHITECTURE.md). Sources: amazon2014 / amazon2018 (download + filter + images + build)
# and mmrec (an already split folder, read directly by build_dataset).


include: "data_common.smk"


rule demo_data:
    output:
        ratings="resources/demo/{dataset}/ratings_{category,[A-Za-z0-9_&-]+}.csv",
        meta="resources/demo/{dataset}/meta_{category}.json.gz",
        image_features="resources/demo/{dataset}/image_features_{category}.b",
        images=directory("resources/demo/{dataset}/images_{category}"),
    log:
        "logs/demo_data/{dataset}_{category}.log",
    conda:
        conda_env("data")
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        category=lambda wc: wc.category,
        n_users=lambda wc: dataset_config(wc.dataset)["demo"]["n_users"],
        n_items=lambda wc: dataset_config(wc.dataset)["demo"]["n_items"],
        seed=lambda wc: dataset_config(wc.dataset)["demo"]["seed"],
    script:
        "../scripts/data_demo.py"


rule download_ratings:
    input:
        download_input("ratings_url"),
    output:
        f"{RESULTS}/{{dataset}}/raw/ratings.csv",
    log:
        "logs/download_ratings/{dataset}.log",
    conda:
        conda_env("data")
    resources:
        mem_mb=500,
        runtime=120,
    params:
        url=lambda wc: dataset_config(wc.dataset)["ratings_url"],
        download=DOWNLOAD,
    script:
        "../scripts/data_download.py"


rule download_meta:
    input:
        download_input("meta_url"),
    output:
        f"{RESULTS}/{{dataset}}/raw/meta.json.gz",
    log:
        "logs/download_meta/{dataset}.log",
    conda:
        conda_env("data")
    resources:
        mem_mb=500,
        runtime=120,
    params:
        url=lambda wc: dataset_config(wc.dataset)["meta_url"],
        download=DOWNLOAD,
    script:
        "../scripts/data_download.py"


rule download_image_features:
    input:
        download_input("image_features_url"),
    output:
        f"{RESULTS}/{{dataset}}/raw/image_features.b",
    log:
        "logs/download_image_features/{dataset}.log",
    conda:
        conda_env("data")
    resources:
        mem_mb=500,
        runtime=240,
    params:
        url=lambda wc: dataset_config(wc.dataset)["image_features_url"],
        download=DOWNLOAD,
    script:
        "../scripts/data_download.py"


rule filter_interactions:
    input:
        ratings=f"{RESULTS}/{{dataset}}/raw/ratings.csv",
        meta=f"{RESULTS}/{{dataset}}/raw/meta.json.gz",
    output:
        interactions=f"{RESULTS}/{{dataset}}/interim/kcore.parquet",
        items_meta=f"{RESULTS}/{{dataset}}/interim/items_meta.parquet",
    log:
        "logs/filter_interactions/{dataset}.log",
    conda:
        conda_env("data")
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        source=lambda wc: data_source(wc.dataset),
        k_core=PREPROCESS.get("k_core", 5),
        max_bad_meta_fraction=PREPROCESS.get("max_bad_meta_fraction", 0.01),
    script:
        "../scripts/data_filter.py"


rule download_images:
    input:
        unpack(images_input),
    output:
        manifest=f"{RESULTS}/{{dataset}}/images/manifest.parquet",
    log:
        "logs/download_images/{dataset}.log",
    conda:
        conda_env("data")
    resources:
        mem_mb=2000,
        runtime=600,
    params:
        workers=IMAGES.get("workers", 16),
        per_host_concurrency=IMAGES.get("per_host_concurrency", 4),
        max_pixels=IMAGES.get("max_pixels", 89478485),
        max_missing_fraction=IMAGES.get("max_missing_fraction", 0.2),
        download=DOWNLOAD,
    script:
        "../scripts/data_images.py"


rule build_dataset:
    input:
        unpack(build_inputs),
    output:
        interactions=f"{RESULTS}/{{dataset}}/interactions.parquet",
        items_table=f"{RESULTS}/{{dataset}}/items.parquet",
        stats=report(
            f"{RESULTS}/{{dataset}}/stats.json",
            caption="../report/data_stats.rst",
            category="Data",
            subcategory="{dataset}",
        ),
        user_map=f"{RESULTS}/{{dataset}}/user_map.csv",
        item_map=f"{RESULTS}/{{dataset}}/item_map.csv",
    log:
        "logs/build_dataset/{dataset}.log",
    conda:
        conda_env("data")
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        source=lambda wc: data_source(wc.dataset),
        path=lambda wc: dataset_config(wc.dataset).get("path"),
        inter_file=lambda wc: dataset_config(wc.dataset).get(
            "inter_file", f"{wc.dataset}.inter"
        ),
        expected_stats=lambda wc: dict(
            sorted(dataset_config(wc.dataset).get("expected_stats", {}).items())
        ),
        k_core=PREPROCESS.get("k_core", 5),
        # A function: a plain string with {title} would be expanded as a wildcard pattern.
        text_template=lambda wc: PREPROCESS.get(
            "text_template", "{title}, category: {category}"
        ),
        category_level=PREPROCESS.get("category_level", "last"),
        split_method=SPLIT.get("method", "per_user_random"),
        split_seed=SPLIT.get("seed", 999),
        missing_policy=IMAGES.get("missing_policy", "mean"),
    script:
        "../scripts/data_build.py"


rule copy_provided_features:
    input:
        lambda wc: os.path.join(
            dataset_config(wc.dataset)["path"], f"{wc.modality}_feat.npy"
        ),
    output:
        f"{RESULTS}/{{dataset}}/raw/{{modality,image|text}}_feat.npy",
    log:
        "logs/copy_provided_features/{dataset}_{modality}.log",
    conda:
        conda_env("data")
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        source=lambda wc: data_source(wc.dataset),
    script:
        "../scripts/data_provided.py"
