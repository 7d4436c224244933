"""Rule copy_provided_features: MMRec's image_feat.npy / text_feat.npy into results/{dataset}/raw/."""

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.data.build import copy_provided_feature

    copy_provided_feature(snakemake.input[0], snakemake.output[0])
