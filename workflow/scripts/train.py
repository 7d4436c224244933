"""Rules train_point, train_cell and select_cell (one script): a grid point, a whole cell, or the
selection of a cell's winner from its points -> vlmrec.training.grid."""

from pathlib import Path

from vlmrec.utils.logs import snakemake_job

with snakemake_job(snakemake):
    from vlmrec.layout import POINT_TO_CELL
    from vlmrec.training.grid import PointFiles, cell_job, point_job, select_cell

    def point_files(files, roles=None):
        """PointFiles from Snakemake's named files (a cell's are named by cell role)."""
        return PointFiles(**{role: Path(files[(roles or {}).get(role, role)]) for role in POINT_TO_CELL})

    wildcards, params = snakemake.wildcards, snakemake.params
    meta = {"dataset": wildcards.dataset, "feature": wildcards.feature}
    if snakemake.rule == "select_cell":
        inputs = snakemake.input
        points = [
            point_files(dict(zip(POINT_TO_CELL, files))) for files in zip(*(inputs[r] for r in POINT_TO_CELL))
        ]
        out = point_files(snakemake.output, POINT_TO_CELL)
        select_cell(points, out, select_on=params.select_on, valid_metric=params.valid_metric, meta=meta)
    else:
        features = [Path(f) for f in snakemake.input.get("features", [])]
        job = dict(
            interactions=snakemake.input.interactions,
            feature_dir=next((f.parent for f in features if f.name == "manifest.json"), None),
            model=wildcards.model,
            params=params.model_params,
            training=params.training,
            meta=meta,
            threads=snakemake.threads,
        )
        if snakemake.rule == "train_point":
            point_job(point=params.point, out=point_files(snakemake.output), **job)
        else:
            cell_job(grid=params.grid, out=point_files(snakemake.output, POINT_TO_CELL), **job)
