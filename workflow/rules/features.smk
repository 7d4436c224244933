# Stage: features. One job per (dataset, strategy), generated from the strategy registry
# (src/vlmrec/features/registry.py): a new strategy is one module + one config entry, no rule.
# Every value a strategy reads (its prompt, every encoder setting) is a `params:` value, so editing
# the Prompt#2 string reruns exactly extract_prompt2 and what depends on it.
# Helpers (feature_files, feature_targets, ...) live in features_common.smk.


include: "features_common.smk"


rule build_tiny_models:
    output:
        [directory(f"{TINY_MODELS_DIR}/{name}") for name in TINY_MODELS],
    log:
        "logs/build_tiny_models/build.log",
    conda:
        conda_env("features")
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        out_dir=lambda wildcards, output: os.path.dirname(output[0]),
        seed=config.get("seed", 999),
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
            f"logs/{feature_rule_name(_strategy)}/{{dataset}}.log",
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
        interactions=f"{RESULTS}/{{dataset}}/interactions.parquet",
        features=lambda w: feature_files(w.dataset, w.strategy),
    output:
        inter=f"{RESULTS}/{{dataset}}/mmrec/{{strategy}}/{{dataset}}.inter",
        image=f"{RESULTS}/{{dataset}}/mmrec/{{strategy}}/image_feat.npy",
        text=f"{RESULTS}/{{dataset}}/mmrec/{{strategy}}/text_feat.npy",
    log:
        "logs/export_mmrec/{dataset}_{strategy}.log",
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
