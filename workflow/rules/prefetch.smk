# `snakemake prefetch --cores 4` on a login node (never through the SLURM profile): every network
# download of the run, so compute jobs need no internet. Data: the data stage's own download
# rules (ratings, metadata, CNN features, the k-core candidates' images); models: a snapshot of
# every Hugging Face model under `features` at its pinned revision into the hub cache (HF_HOME).
# Afterwards run the workflow with HF_HUB_OFFLINE=1 (README "Real-run checklist").


include: "prefetch_common.smk"


localrules:
    prefetch,
    prefetch_models,


rule prefetch_models:
    output:
        f"{RESULTS}/prefetch/models.json",
    log:
        job_log("prefetch_models", "models"),
    benchmark:
        job_benchmark("prefetch_models", "models")
    conda:
        conda_env("features")
    resources:
        mem_mb=1000,
        runtime=240,
    params:
        features=config["features"],
    script:
        "../scripts/prefetch_models.py"


rule prefetch:
    input:
        prefetch_data_files(),
        f"{RESULTS}/prefetch/models.json",
