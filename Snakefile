# vlmrec: which item features make multimodal recommenders best?
#   snakemake --cores all                                  # the paper's experiment (config/config.yaml)
#   snakemake --cores all --configfile config/demo.yaml    # the embedded demo
# This file stays thin: configuration, the stage files and the target rule. The config is
# validated (schema defaults filled, names checked) in workflow/rules/common.smk.

from snakemake.utils import min_version

min_version("9.0")


# A --configfile replaces the paper's config instead of being deep-merged into it (a merge would
# add the paper's datasets to the demo's).
if not workflow.overwrite_configfiles:

    configfile: f"{workflow.basedir}/config/config.yaml"


# Datasets with `enabled: false` (MMRec's release, fetched by hand) are offered, not built.
config["datasets"] = {
    name: entry
    for name, entry in config["datasets"].items()
    if entry.get("enabled", True)
}


# `snakemake --report results/report.html`: the workflow description on the report's front page.
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/diagnostics.smk"
include: "workflow/rules/prefetch.smk"


rule all:
    default_target: True
    input:
        final_targets(),
