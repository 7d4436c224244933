# Stage: features. One job per (dataset, strategy), generated from the torch-free specs
# (src/vlmrec/features/specs.py): a new strategy is one module + one config entry, or a
# features.declared config entry alone — no rule. Every value a strategy reads (its prompt or
# template, every encoder setting) is a `params:` value, so editing the Prompt#2 string reruns
# exactly extract_prompt2 and what depends on it.
# Helpers (feature_files, feature_targets, ...) live in features_common.smk.


include: "features_common.smk"


rule build_tiny_models:
    output:
        [directory(f"{TINY_MODELS_DIR}/{name}") for name in TINY_MODELS],
    log:
        job_log("build_tiny_models", "build"),
    benchmark:
        job_benchmark("build_tiny_models", "build")
    conda:
        conda_env("features")
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        out_dir=lambda wildcards, output: os.path.dirname(output[0]),
        seed=config["seed"],
    script:
        "../scripts/features_tiny_models.py"


for _strategy in STRATEGIES:
    # One rule per strategy: extract_<name> (encoders, GPU-tagged) or combine_<name> (reuse).

    rule:
        name:
            feature_rule_name(_strategy)
        input:
            **extract_inputs(_strategy),
        output:
            **extract_outputs(_strategy),
        log:
            job_log(feature_rule_name(_strategy)),
        benchmark:
            job_benchmark(feature_rule_name(_strategy))
        conda:
            conda_env("features")
        resources:
            **extract_resources(_strategy),
        params:
            **rule_params(_strategy),
        script:
            "../scripts/features_extract.py"


rule export_mmrec:
    input:
        interactions=LAYOUT.data_file("{dataset}", "interactions"),
        features=lambda w: feature_files(w.dataset, w.strategy),
    output:
        **LAYOUT.mmrec_export_files("{dataset}", "{strategy}"),
    log:
        job_log("export_mmrec", "{dataset}_{strategy}"),
    benchmark:
        job_benchmark("export_mmrec", "{dataset}_{strategy}")
    wildcard_constraints:
        strategy="|".join(STRATEGIES),
    conda:
        conda_env("features")
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        dataset=lambda w: w.dataset,
    script:
        "../scripts/features_export_mmrec.py"
