"""Grid point naming, free of torch: the Snakemake scheduler names grid points at plan time.

MMRec runs ``itertools.product`` over a model's hyper-parameter lists in the order its yaml lists
them (last one fastest); a point's name (``dropout0.8_reg_weight1e-05``) is its file name under
``points/`` (``vlmrec.layout``) and the ``{point}`` wildcard of rule ``train_point``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination, in MMRec's product order (the grid's key order, last key fastest)."""
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"grid.{key}: must be a non-empty list of values")
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def point_name(point: Mapping[str, Any]) -> str:
    """A readable, filesystem-safe name such as ``dropout0.8_reg_weight1e-05``."""
    if not point:
        return "default"
    return "_".join(f"{key}{value!r}" for key, value in point.items())


def point_names(grid: Mapping[str, Sequence[Any]]) -> list[str]:
    """The names of every grid point, in grid order; duplicate values are an error."""
    names = [point_name(p) for p in grid_points(grid)]
    if len(set(names)) != len(names):
        raise ValueError(f"grid {dict(grid)} has duplicate values")
    return names


def point_by_name(grid: Mapping[str, Sequence[Any]], name: str) -> dict[str, Any]:
    """The grid point called ``name`` (the ``{point}`` wildcard back to its parameters)."""
    for point in grid_points(grid):
        if point_name(point) == name:
            return point
    raise ValueError(f"grid point '{name}' is not in the grid {dict(grid)}")
