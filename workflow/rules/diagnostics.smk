# Stage: diagnostics (issue 12) — why a feature helps or not.
#   diagnose_features: per (dataset, feature set) measures of agreement with behaviour and geometry;
#   diagnostics_table: results/diagnostics.csv (tidy) + diagnostics.md (a table per dataset);
#   slices_table:      results/slices.csv from the cells' metrics.json `slices` (training stage);
#   diagnostic_plots:  agreement vs test metric, metric per popularity bucket, per dataset;
#   cold_split / train_cold / cold_table: the cold-start protocol (split.cold_items > 0).


include: "diagnostics_common.smk"


rule diagnose_features:
    input:
        interactions=LAYOUT.data_file("{dataset}", "interactions"),
        features=lambda wc: feature_files(wc.dataset, wc.strategy),
    output:
        f"{RESULTS}/{{dataset}}/diagnostics/{{strategy}}.json",
    log:
        job_log("diagnose_features", "{dataset}/{strategy}"),
    benchmark:
        job_benchmark("diagnose_features", "{dataset}/{strategy}")
    wildcard_constraints:
        strategy="|".join(STRATEGIES),
    conda:
        conda_env("train")
    threads: 2
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        settings=DIAGNOSTICS,
    script:
        "../scripts/diagnostics_features.py"


rule diagnostics_table:
    input:
        diagnostics_files(),
    output:
        csv=report(
            f"{RESULTS}/diagnostics.csv",
            caption="../report/diagnostics_table.rst",
            category="5. Diagnostics",
            labels={"file": "diagnostics.csv (tidy)"},
        ),
        md=f"{RESULTS}/diagnostics.md",
        html=report(
            f"{RESULTS}/diagnostics.html",
            caption="../report/diagnostics_table.rst",
            category="5. Diagnostics",
            labels={"file": "diagnostics (a table per dataset)"},
        ),
    log:
        job_log("diagnostics_table", "all"),
    benchmark:
        job_benchmark("diagnostics_table", "all")
    conda:
        conda_env("report")
    resources:
        mem_mb=1000,
    script:
        "../scripts/diagnostics_table.py"


rule slices_table:
    input:
        report_cell_files("metrics"),
    output:
        report(
            f"{RESULTS}/slices.csv",
            caption="../report/diagnostics_slices.rst",
            category="5. Diagnostics",
            labels={"file": "slices.csv"},
        ),
    log:
        job_log("slices_table", "all"),
    benchmark:
        job_benchmark("slices_table", "all")
    conda:
        conda_env("report")
    resources:
        mem_mb=1000,
    script:
        "../scripts/diagnostics_slices.py"


rule diagnostic_plots:
    input:
        diagnostics=lambda wc: diagnostics_files(wc.dataset),
        metrics=lambda wc: [
            LAYOUT.cell_file(*c, "metrics") for c in feature_cells(wc.dataset)
        ],
    output:
        agreement=report(
            LAYOUT.plot_file("{dataset}", "agreement", "png"),
            caption="../report/diagnostics_agreement.rst",
            category="5. Diagnostics",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "agreement vs test metric"},
        ),
        agreement_svg=LAYOUT.plot_file("{dataset}", "agreement", "svg"),
        popularity=report(
            LAYOUT.plot_file("{dataset}", "popularity", "png"),
            caption="../report/diagnostics_popularity.rst",
            category="5. Diagnostics",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "metric per popularity bucket"},
        ),
        popularity_svg=LAYOUT.plot_file("{dataset}", "popularity", "svg"),
    log:
        job_log("diagnostic_plots"),
    benchmark:
        job_benchmark("diagnostic_plots")
    conda:
        conda_env("report")
    resources:
        mem_mb=2000,
    params:
        metric=REPORT["metrics"][0],
        k=REPORT["k"][0],
        models=MODELS,
        strategies=STRATEGIES,
    script:
        "../scripts/diagnostics_plots.py"


rule cold_split:
    input:
        LAYOUT.data_file("{dataset}", "interactions"),
    output:
        interactions=f"{RESULTS}/{{dataset}}/cold/interactions.parquet",
        stats=f"{RESULTS}/{{dataset}}/cold/split.json",
    log:
        job_log("cold_split"),
    benchmark:
        job_benchmark("cold_split")
    conda:
        conda_env("data")
    resources:
        mem_mb=2000,
    params:
        fraction=COLD_FRACTION,
        seed=config["split"]["seed"],
    script:
        "../scripts/diagnostics_cold_split.py"


rule train_cold:
    input:
        interactions=f"{RESULTS}/{{dataset}}/cold/interactions.parquet",
        features=lambda wc: feature_files(wc.dataset, wc.feature),
        cell_metrics=lambda wc: LAYOUT.cell_file(
            wc.dataset, wc.model, wc.feature, "metrics"
        ),
    output:
        f"{RESULTS}/{{dataset}}/cold/{{model}}/{{feature}}/metrics.json",
    log:
        job_log("train_cold", "{dataset}/{model}/{feature}"),
    benchmark:
        job_benchmark("train_cold", "{dataset}/{model}/{feature}")
    wildcard_constraints:
        feature="|".join(STRATEGIES),
    conda:
        conda_env("train")
    threads: TRAIN_RESOURCES["cpus_per_task"]
    resources:
        **TRAIN_RESOURCES,
    params:
        model_params=lambda wc: config["models"][wc.model]["params"],
        training=POINT_SETTINGS,
    script:
        "../scripts/diagnostics_train_cold.py"


rule cold_table:
    input:
        [cold_cell_file(*cell) for cell in cold_cells()],
    output:
        csv=f"{RESULTS}/cold_start.csv",
        md=report(
            f"{RESULTS}/cold_start.md",
            caption="../report/diagnostics_cold.rst",
            category="5. Diagnostics",
            labels={"file": "cold_start.md"},
        ),
    log:
        job_log("cold_table", "all"),
    benchmark:
        job_benchmark("cold_table", "all")
    conda:
        conda_env("report")
    resources:
        mem_mb=1000,
    params:
        not_applicable=cold_not_applicable(),
        metrics=REPORT["metrics"],
        k=REPORT["k"],
    script:
        "../scripts/diagnostics_cold_table.py"
