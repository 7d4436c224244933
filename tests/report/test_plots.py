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


def test_full_cost_of_derived_sets_counts_what_they_reuse(tmp_path: Path) -> None:
    import json

    from vlmrec.report.plots import full_costs

    def manifest(name: str, wall: float | None, **extra) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        data = {"strategy": name, "modalities": {"x": {"dim": 4}}, "wall_time_s": wall, **extra}
        (folder / "manifest.json").write_text(json.dumps(data))
        return folder / "manifest.json"

    paths = [
        manifest("visual", 30.0),
        manifest("textual", 10.0),
        manifest("dual", 0.5, sources={"visual": "h1", "textual": "h2"}),  # the feature stage's key
        manifest("dual_concat", 0.25, reuses=["visual", "textual"]),
        manifest("orphan", 1.0, sources={"missing": "h3"}),  # a reused set without a manifest
    ]
    infos = load_manifests(paths)
    assert infos["dual"].sources == ("visual", "textual")
    costs = full_costs(infos)
    assert costs["dual"] == 40.5 and costs["dual_concat"] == 40.25 and costs["visual"] == 30.0
    assert "orphan" not in costs  # unknown full cost: not drawn rather than drawn too cheap


def test_dot_plot_marks_and_reference_lines(make_run, fake_run, tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from vlmrec.report.plots import plot_bars
    from vlmrec.report.table import TableOrder

    _, paths = make_run(fake_run(datasets=("baby",)))
    cells = load_cells(paths)
    marks = {("freedom", "dual"): True, ("freedom", "visual"): False}
    fig = plot_bars(cells, "recall@20", "R@20", "baby", TableOrder(), "original", marks)
    (ax,) = [a for a in fig.axes if a.get_visible()]  # LightGCN is no panel of its own
    dots = {round(line.get_xdata()[0], 9): line for line in ax.lines if line.get_marker() in ("o", "s")}
    by_feature = {c.feature: c.value("recall@20") for c in cells if c.model == "freedom"}
    dual, visual = dots[round(by_feature["dual"], 9)], dots[round(by_feature["visual"], 9)]
    assert dual.get_markerfacecolor() != (1.0, 1.0, 1.0, 1.0)  # filled: significant vs Original
    assert visual.get_markerfacecolor() in ("white", (1.0, 1.0, 1.0, 1.0))
    lightgcn = next(c for c in cells if c.model == "lightgcn").value("recall@20")
    vertical = [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "--"]
    assert vertical == [lightgcn]  # LightGCN as a reference line
    lo, hi = ax.get_xlim()
    assert lo > 0.0 and lo < min(by_feature.values()) and hi > max(by_feature.values())  # not from 0
    plt.close(fig)


def test_curves_have_integer_epoch_ticks_and_many_models_fit(make_run, fake_run) -> None:
    import matplotlib.pyplot as plt

    from vlmrec.report.plots import PANELS_PER_ROW, plot_curves
    from vlmrec.report.table import TableOrder

    models = {f"m{i}": ("original", "visual") for i in range(6)} | {"lightgcn": ("id",)}
    _, paths = make_run(fake_run(datasets=("baby",), models=models, epochs=3))
    fig = plot_curves(load_cells(paths), "recall@20", "R@20", "baby", TableOrder())
    panels = [a for a in fig.axes if a.get_visible()]
    assert len(panels) == 6 and len(fig.axes) == 2 * PANELS_PER_ROW  # two rows, unused slots hidden
    for ax in panels:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)
    plt.close(fig)


def test_same_dimension_strategies_are_spread_apart() -> None:
    from vlmrec.report.plots import _dodge

    placed = _dodge(
        {"visual": 1536, "textual": 1536, "prompt1": 1536, "dual": 3072},
        ["visual", "textual", "prompt1", "dual"],
        True,
    )
    assert len({placed["visual"], placed["textual"], placed["prompt1"]}) == 3
    assert placed["dual"] == 3072 and all(1536 / 1.2 < placed[f] < 1536 * 1.2 for f in ("visual", "prompt1"))


def test_labels_of_new_models_and_strategies() -> None:
    from vlmrec.report.labels import feature_label, model_label

    assert feature_label("clip_visual") == "CLIP-Visual" and feature_label("siglip_dual") == "SigLIP-Dual"
    assert feature_label("my_set") == "My-set" and model_label("lgmrec") == "LGMRec"
