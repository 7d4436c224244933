# Stage: report — the comparison table (CSV/Markdown/LaTeX/HTML), significance, plots, the paper
# side by side. `aggregate` needs every cell of CELLS; `partial_table` uses the finished ones.


include: "report_common.smk"


rule aggregate:
    input:
        metrics=report_cell_files("metrics"),
        per_user=report_cell_files("per_user"),
    output:
        csv=LAYOUT.table_file("csv"),
        md=LAYOUT.table_file("md"),
        tex=LAYOUT.table_file("tex"),
        html=report(
            LAYOUT.table_file("html"),
            caption="../report/table.rst",
            category="1. Comparison table",
            labels={"file": "table (paper layout)"},
        ),
        significance=LAYOUT.table_files()["significance"],
        # The report shows HTML tables inline (a CSV only as a download link).
        significance_html=report(
            LAYOUT.table_files()["significance_html"],
            caption="../report/significance.rst",
            category="2. Significance",
            labels={"file": "significance tests"},
        ),
    log:
        job_log("aggregate", "all"),
    benchmark:
        job_benchmark("aggregate", "all")
    conda:
        conda_env("report")
    resources:
        mem_mb=4000,
    params:
        order=REPORT_ORDER,
        settings=REPORT_SETTINGS,
    script:
        "../scripts/report_aggregate.py"


# For long runs: `snakemake partial_table --nolock` while the main run goes on. No file inputs,
# so it never waits for (or reruns) a cell; missing cells are listed as pending.
rule partial_table:
    output:
        **LAYOUT.table_files(partial=True),
    log:
        job_log("partial_table", "all"),
    benchmark:
        job_benchmark("partial_table", "all")
    conda:
        conda_env("report")
    resources:
        mem_mb=4000,
    params:
        order=REPORT_ORDER,
        settings=REPORT_SETTINGS,
        finished=report_finished_cells(),
        missing=report_missing_cells(),
    script:
        "../scripts/report_aggregate.py"


rule plots:
    input:
        metrics=lambda wc: report_cell_files("metrics", wc.dataset),
        curves=lambda wc: report_cell_files("curve", wc.dataset),
        manifests=lambda wc: report_manifests(wc.dataset),
        # the † marks of the dot plot (significance vs the baseline feature)
        table=LAYOUT.table_file("csv"),
    output:
        bars=report(
            LAYOUT.plot_file("{dataset}", "bars", "png"),
            caption="../report/plot_bars.rst",
            category="3. Plots",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "test metric per strategy"},
        ),
        bars_svg=LAYOUT.plot_file("{dataset}", "bars", "svg"),
        curves=report(
            LAYOUT.plot_file("{dataset}", "curves", "png"),
            caption="../report/plot_curves.rst",
            category="3. Plots",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "validation curves"},
        ),
        curves_svg=LAYOUT.plot_file("{dataset}", "curves", "svg"),
        dims=report(
            LAYOUT.plot_file("{dataset}", "dims", "png"),
            caption="../report/plot_dims.rst",
            category="3. Plots",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "feature dimension"},
        ),
        dims_svg=LAYOUT.plot_file("{dataset}", "dims", "svg"),
        cost=report(
            LAYOUT.plot_file("{dataset}", "cost", "png"),
            caption="../report/plot_cost.rst",
            category="3. Plots",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "extraction cost"},
        ),
        cost_svg=LAYOUT.plot_file("{dataset}", "cost", "svg"),
    log:
        job_log("plots"),
    benchmark:
        job_benchmark("plots")
    conda:
        conda_env("report")
    resources:
        mem_mb=2000,
    params:
        order=REPORT_ORDER,
        metric=REPORT["metrics"][0],
        k=REPORT["k"][0],
        baseline=REPORT["baseline_feature"],
    script:
        "../scripts/report_plots.py"


rule paper_comparison:
    input:
        table=LAYOUT.table_file("csv"),
    output:
        md=LAYOUT.paper_comparison("md"),
        html=report(
            LAYOUT.paper_comparison("html"),
            caption="../report/paper_comparison.rst",
            category="4. The paper side by side",
            labels={"file": "paper comparison"},
        ),
    log:
        job_log("paper_comparison", "all"),
    benchmark:
        job_benchmark("paper_comparison", "all")
    conda:
        conda_env("report")
    resources:
        mem_mb=1000,
    params:
        paper_table=REPORT["paper_table"],
        paper_title=REPORT["paper_title"],
        metrics=REPORT["metrics"],
        datasets=DATASETS,
        models=MODELS,
    script:
        "../scripts/report_paper.py"
