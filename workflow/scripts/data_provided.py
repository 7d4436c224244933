"""Rule copy_provided_features: MMRec's image_feat.npy / text_feat.npy into results/{dataset}/raw/."""

from vlmrec.data.build import copy_provided_feature
from vlmrec.utils.logs import setup_logging

setup_logging(snakemake.log[0])
copy_provided_feature(snakemake.input[0], snakemake.output[0])
