"""Rule build_dataset: split, dense ids, item text and stats (the data stage's contract)."""

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.data.build import BuildOptions, DatasetOutputs, build_dataset, build_mmrec_dataset

    params, inputs, output = snakemake.params, snakemake.input, snakemake.output
    options = BuildOptions(**params.options)
    outputs = DatasetOutputs(
        output.interactions, output.items_table, output.stats, output.user_map, output.item_map
    )
    dataset = snakemake.wildcards.dataset
    if params.mmrec is not None:
        build_mmrec_dataset(
            params.mmrec["path"],
            params.mmrec["inter_file"],
            outputs,
            options,
            dataset,
            items_meta_path=inputs.get("items_meta"),
            manifest_path=inputs.get("manifest"),
        )
    else:
        build_dataset(inputs.interactions, inputs.items_meta, inputs.manifest, outputs, options, dataset)
