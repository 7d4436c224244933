"""Rules download_ratings / download_meta / download_image_features: one URL to one file."""

from vlmrec.data.download import DownloadOptions, download_file
from vlmrec.utils.logs import setup_logging

setup_logging(snakemake.log[0])
download_file(
    snakemake.params.url, snakemake.output[0], DownloadOptions.from_mapping(snakemake.params.download)
)
