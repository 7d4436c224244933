"""Rule download_images: fetch, verify and normalise the candidate items' images."""

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.data.download import DownloadOptions
    from vlmrec.data.images import ImageOptions, download_images

    download_images(
        snakemake.input.items_meta,
        snakemake.output.manifest,
        ImageOptions(
            workers=snakemake.params.workers,
            per_host_concurrency=snakemake.params.per_host_concurrency,
            max_pixels=snakemake.params.max_pixels,
        ),
        DownloadOptions.from_mapping(snakemake.params.download),
        snakemake.params.max_missing_fraction,
    )
