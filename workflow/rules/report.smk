# Stage: report — the comparison table (CSV/Markdown/LaTeX/HTML), significance, plots, the paper
# side by side. `aggregate` needs every cell of cells(); `partial_table` uses the finished ones.


include: "report_common.smk"


rule aggregate:
    input:
        metrics=report_cell_files("metrics.json"),
        per_user=report_cell_files("per_user_test.parquet"),
    output:
        csv=report(
            f"{RESULTS}/table.csv",
            caption="../report/table_csv.rst",
            category="1. Comparison table",
            labels={"file": "table.csv (tidy)"},
        ),
        md=f"{RESULTS}/table.md",
        tex=f"{RESULTS}/table.tex",
        html=report(
            f"{RESULTS}/table.html",
            caption="../report/table.rst",
            category="1. Comparison table",
            labels={"file": "table (paper layout)"},
        ),
        significance=report(
            f"{RESULTS}/significance.csv",
            caption="../report/significance.rst",
            category="2. Significance",
            labels={"file": "significance.csv"},
        ),
    log:
        "logs/aggregate/all.log",
    conda:
        conda_env("report")
    resources:
        mem_mb=4000,
    params:
        **REPORT_ORDER,
        metrics=REPORT["metrics"],
        k=REPORT["k"],
        baseline=REPORT["baseline_feature"],
        alpha=REPORT["alpha"],
        bootstrap_samples=REPORT["bootstrap_samples"],
        seed=config.get("seed", 999),
        missing=[],
    script:
        "../scripts/report_aggregate.py"


# For long runs: `snakemake partial_table --nolock` while the main run goes on. No file inputs,
# so it never waits for (or reruns) a cell; missing cells are listed as pending.
rule partial_table:
    output:
        csv=f"{RESULTS}/partial/table.csv",
        md=f"{RESULTS}/partial/table.md",
        tex=f"{RESULTS}/partial/table.tex",
        html=f"{RESULTS}/partial/table.html",
        significance=f"{RESULTS}/partial/significance.csv",
    log:
        "logs/partial_table/all.log",
    conda:
        conda_env("report")
    resources:
        mem_mb=4000,
    params:
        **REPORT_ORDER,
        finished=report_finished_cells(),
        missing=report_missing_cells(),
        metrics=REPORT["metrics"],
        k=REPORT["k"],
        baseline=REPORT["baseline_feature"],
        alpha=REPORT["alpha"],
        bootstrap_samples=REPORT["bootstrap_samples"],
        seed=config.get("seed", 999),
    script:
        "../scripts/report_aggregate.py"


rule plots:
    input:
        metrics=lambda wc: report_cell_files("metrics.json", wc.dataset),
        curves=lambda wc: report_cell_files("curve.csv", wc.dataset),
        manifests=lambda wc: report_manifests(wc.dataset),
    output:
        bars=report(
            f"{RESULTS}/plots/{{dataset}}/bars.png",
            caption="../report/plot_bars.rst",
            category="3. Plots",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "test metric per strategy"},
        ),
        bars_svg=f"{RESULTS}/plots/{{dataset}}/bars.svg",
        curves=report(
            f"{RESULTS}/plots/{{dataset}}/curves.png",
            caption="../report/plot_curves.rst",
            category="3. Plots",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "validation curves"},
        ),
        curves_svg=f"{RESULTS}/plots/{{dataset}}/curves.svg",
        dims=report(
            f"{RESULTS}/plots/{{dataset}}/dims.png",
            caption="../report/plot_dims.rst",
            category="3. Plots",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "feature dimension"},
        ),
        dims_svg=f"{RESULTS}/plots/{{dataset}}/dims.svg",
        cost=report(
            f"{RESULTS}/plots/{{dataset}}/cost.png",
            caption="../report/plot_cost.rst",
            category="3. Plots",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "extraction cost"},
        ),
        cost_svg=f"{RESULTS}/plots/{{dataset}}/cost.svg",
    log:
        "logs/plots/{dataset}.log",
    conda:
        conda_env("report")
    resources:
        mem_mb=2000,
    params:
        **REPORT_ORDER,
        metric=REPORT["metrics"][0],
        k=REPORT["k"][0],
    script:
        "../scripts/report_plots.py"


rule paper_comparison:
    input:
        table=f"{RESULTS}/table.csv",
    output:
        md=report(
            f"{RESULTS}/paper_comparison.md",
            caption="../report/paper_comparison.rst",
            category="4. The paper side by side",
            labels={"file": "paper_comparison.md"},
        ),
    log:
        "logs/paper_comparison/all.log",
    conda:
        conda_env("report")
    resources:
        mem_mb=1000,
    params:
        paper_table=REPORT.get("paper_table", {}),
        metrics=REPORT["metrics"],
        datasets=DATASETS,
        models=MODELS,
    script:
        "../scripts/report_paper.py"
