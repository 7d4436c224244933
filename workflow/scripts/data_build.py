"""Rule build_dataset: split, dense ids, item text and stats (the data stage's contract)."""

from vlmrec.data.build import BuildOptions, DatasetOutputs, build_dataset, build_mmrec_dataset
from vlmrec.utils.logs import setup_logging

setup_logging(snakemake.log[0])
params = snakemake.params
options = BuildOptions(
    k_core=params.k_core,
    text_template=params.text_template,
    category_level=params.category_level,
    split_method=params.split_method,
    split_seed=params.split_seed,
    missing_policy=params.missing_policy,
    source=params.source,
    expected_stats=dict(params.expected_stats),
)
outputs = DatasetOutputs(
    snakemake.output.interactions,
    snakemake.output.items_table,
    snakemake.output.stats,
    snakemake.output.user_map,
    snakemake.output.item_map,
)
if params.source == "mmrec":
    build_mmrec_dataset(params.path, params.inter_file, outputs, options, snakemake.wildcards.dataset)
else:
    build_dataset(
        snakemake.input.interactions,
        snakemake.input.items_meta,
        snakemake.input.manifest,
        outputs,
        options,
        snakemake.wildcards.dataset,
    )
