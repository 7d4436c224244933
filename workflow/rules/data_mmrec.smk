# Stage: data, MMRec's released split with real content. An `mmrec` dataset that names the Amazon
# 2014 metadata (`meta_url`) gets its items' titles, categories and image URLs by asin through the
# release's `i_id_mapping.csv` (asin -> itemID): every strategy then runs on MMRec's exact split
# and item ids. download_meta / download_images / build_dataset are the rules of data.smk.


rule join_mmrec_meta:
    input:
        meta=f"{RESULTS}/{{dataset}}/raw/meta.json.gz",
        mapping=mmrec_mapping_path,
    output:
        items_meta=f"{RESULTS}/{{dataset}}/interim/mmrec_items_meta.parquet",
    log:
        job_log("join_mmrec_meta"),
    benchmark:
        job_benchmark("join_mmrec_meta")
    conda:
        conda_env("data")
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        path=lambda wc: dataset_config(wc.dataset)["path"],
        mapping_file=lambda wc: mmrec_mapping_file(wc.dataset),
        max_missing_fraction=lambda wc: dataset_config(wc.dataset)[
            "max_missing_meta_fraction"
        ],
        max_bad_meta_fraction=PREPROCESS["max_bad_meta_fraction"],
    script:
        "../scripts/data_join_mmrec.py"
