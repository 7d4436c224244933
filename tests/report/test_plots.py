"""Plots are written (PNG + SVG) from cells, curves and manifests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from vlmrec.report.cells import load_cells
from vlmrec.report.plots import PLOT_KINDS, feature_dims, load_manifests, make_dataset_plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _outputs(out: Path) -> dict[str, tuple[Path, Path]]:
    return {kind: (out / f"{kind}.png", out / f"{kind}.svg") for kind in PLOT_KINDS}


def _svg_texts(path: Path) -> str:
    """Text of an SVG (matplotlib writes text as glyph paths with the string in comments/ids)."""
    return path.read_text()


def test_every_plot_is_written(make_run, fake_run, tmp_path: Path) -> None:
    root, paths = make_run(fake_run())
    manifests = sorted((root / "baby/features").glob("*/manifest.json"))
    written = make_dataset_plots("baby", paths, manifests, _outputs(tmp_path / "plots"))
    assert len(written) == 2 * len(PLOT_KINDS)
    for png, svg in _outputs(tmp_path / "plots").values():
        assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5000
        assert ET.parse(svg).getroot().tag.endswith("svg")
    # No temporary files left next to the outputs.
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(
        f"{k}.{e}" for k in PLOT_KINDS for e in ("png", "svg")
    )


def test_svg_is_reproducible(make_run, fake_run, tmp_path: Path) -> None:
    _, paths = make_run(fake_run(datasets=("baby",)))
    a = make_dataset_plots("baby", paths, [], {"bars": (tmp_path / "a.png", tmp_path / "a.svg")})
    b = make_dataset_plots("baby", paths, [], {"bars": (tmp_path / "b.png", tmp_path / "b.svg")})
    assert a[1].read_bytes() == b[1].read_bytes()


def test_cost_plot_without_wall_time_says_so(make_run, fake_run, tmp_path: Path) -> None:
    root, paths = make_run(fake_run(datasets=("baby",), wall_time=False))
    manifests = sorted((root / "baby/features").glob("*/manifest.json"))
    assert all(info.wall_time_s is None for info in load_manifests(manifests).values())
    import matplotlib

    matplotlib.rcParams["svg.fonttype"] = "none"  # keep text as text to look for the message
    try:
        make_dataset_plots("baby", paths, manifests, {"cost": (tmp_path / "c.png", tmp_path / "c.svg")})
    finally:
        matplotlib.rcParams["svg.fonttype"] = "path"
    assert "carry no wall_time_s" in _svg_texts(tmp_path / "c.svg")


def test_feature_dims_from_metrics_then_manifests(make_run, fake_run) -> None:
    root, paths = make_run(fake_run(datasets=("baby",)))
    cells = load_cells(paths)
    infos = load_manifests(sorted((root / "baby/features").glob("*/manifest.json")))
    dims = feature_dims(cells, infos)
    assert dims["original"] == 2048 + 768 and dims["dual"] == 3072  # from metrics.json feature_dims
    assert infos["visual"].dim == 1536 and dims["visual"] == 1536


def test_unknown_dataset_or_kind_is_an_error(make_run, fake_run, tmp_path: Path) -> None:
    _, paths = make_run(fake_run(datasets=("baby",)))
    with pytest.raises(ValueError, match="no cells of dataset 'sports'"):
        make_dataset_plots("sports", paths, [], _outputs(tmp_path))
    with pytest.raises(ValueError, match="unknown plot kind"):
        make_dataset_plots("baby", paths, [], {"pie": (tmp_path / "p.png", None)})
