# Stage: data. Raw files -> k-core candidates -> images -> the split dataset of the data contract
# (docs/ARCHITECTURE.md). Sources: amazon2014 / amazon2018 (download + filter + images + build)
# and mmrec (an already split folder, read directly by build_dataset).


include: "data_common.smk"
include: "data_mmrec.smk"


# Downloads run where Snakemake runs (a cluster's login node): compute nodes often have no internet.
localrules:
    download_ratings,
    download_meta,
    download_image_features,
    download_images,


rule demo_data:
    output:
        ratings="resources/demo/{dataset}/ratings_{category,[A-Za-z0-9_&-]+}.csv",
        meta="resources/demo/{dataset}/meta_{category}.json.gz",
        image_features="resources/demo/{dataset}/image_features_{category}.b",
        images=directory("resources/demo/{dataset}/images_{category}"),
    log:
        job_log("demo_data", "{dataset}_{category}"),
    benchmark:
        job_benchmark("demo_data", "{dataset}_{category}")
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
        LAYOUT.raw_file("{dataset}", "ratings.csv"),
    log:
        job_log("download_ratings"),
    benchmark:
        job_benchmark("download_ratings")
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
        LAYOUT.raw_file("{dataset}", "meta.json.gz"),
    log:
        job_log("download_meta"),
    benchmark:
        job_benchmark("download_meta")
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
        LAYOUT.raw_file("{dataset}", IMAGE_FEATURES_FILE),
    log:
        job_log("download_image_features"),
    benchmark:
        job_benchmark("download_image_features")
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
        ratings=LAYOUT.raw_file("{dataset}", "ratings.csv"),
        meta=LAYOUT.raw_file("{dataset}", "meta.json.gz"),
    output:
        interactions=LAYOUT.interim_file("{dataset}", "kcore.parquet"),
        items_meta=LAYOUT.interim_file("{dataset}", "items_meta.parquet"),
    log:
        job_log("filter_interactions"),
    benchmark:
        job_benchmark("filter_interactions")
    conda:
        conda_env("data")
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        source=lambda wc: data_source(wc.dataset),
        k_core=PREPROCESS["k_core"],
        max_bad_meta_fraction=PREPROCESS["max_bad_meta_fraction"],
    script:
        "../scripts/data_filter.py"


rule download_images:
    input:
        unpack(images_input),
    output:
        manifest=LAYOUT.images_manifest("{dataset}"),
    log:
        job_log("download_images"),
    benchmark:
        job_benchmark("download_images")
    conda:
        conda_env("data")
    resources:
        mem_mb=2000,
        runtime=600,
    params:
        workers=IMAGES["workers"],
        per_host_concurrency=IMAGES["per_host_concurrency"],
        max_pixels=IMAGES["max_pixels"],
        max_missing_fraction=IMAGES["max_missing_fraction"],
        download=DOWNLOAD,
    script:
        "../scripts/data_images.py"


rule build_dataset:
    input:
        unpack(build_inputs),
    output:
        interactions=LAYOUT.data_file("{dataset}", "interactions"),
        items_table=LAYOUT.data_file("{dataset}", "items_table"),
        stats=report(
            LAYOUT.data_file("{dataset}", "stats"),
            caption="../report/data_stats.rst",
            category="Data",
            subcategory="{dataset}",
        ),
        user_map=LAYOUT.data_file("{dataset}", "user_map"),
        item_map=LAYOUT.data_file("{dataset}", "item_map"),
    log:
        job_log("build_dataset"),
    benchmark:
        job_benchmark("build_dataset")
    conda:
        conda_env("data")
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        # Functions: the text template's {title} would be expanded as a wildcard pattern.
        options=lambda wc: build_options(wc.dataset),
        mmrec=lambda wc: mmrec_release(wc.dataset),
    script:
        "../scripts/data_build.py"


rule copy_provided_features:
    input:
        lambda wc: os.path.join(
            dataset_config(wc.dataset)["path"], f"{wc.modality}_feat.npy"
        ),
    output:
        LAYOUT.raw_file("{dataset}", "{modality,image|text}_feat.npy"),
    log:
        job_log("copy_provided_features", "{dataset}_{modality}"),
    benchmark:
        job_benchmark("copy_provided_features", "{dataset}_{modality}")
    conda:
        conda_env("data")
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        source=lambda wc: data_source(wc.dataset),
    script:
        "../scripts/data_provided.py"
