"""Rules download_ratings / download_meta / download_image_features: one URL to one file."""

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.data.download import DownloadOptions, download_file

    download_file(
        snakemake.params.url, snakemake.output[0], DownloadOptions.from_mapping(snakemake.params.download)
    )
