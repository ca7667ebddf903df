"""What a selection hands to the encoders: typed blocks of values on one domain each."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Block:
    """Values of parameters sharing one set of dimensions, on one domain.

    `axes` is ordered like the arrays in `values`: custom dims first, then
    't', 'z', and either 'y', 'x' (grid) or 'point' (points, trajectory).
    A trajectory whose vertices carry their own time (M) or level (Z) has no
    't'/'z' axis: `point_t`/`point_z` give each vertex's.
    """

    kind: str                                    # 'grid' | 'points' | 'trajectory'
    axes: dict[str, np.ndarray]
    values: dict[str, np.ndarray]
    point_xy: np.ndarray | None = None           # (n, 2) where each point's values hold
    custom_dims: list[str] = field(default_factory=list)
    point_t: np.ndarray | None = None
    point_z: np.ndarray | None = None
    cell_lonlat: tuple[np.ndarray, np.ndarray] | None = None   # (ny, nx) lon/lat of a projected grid's cells
    native_xy: bool = False                      # x/y in the grid's own (projected) CRS, not CRS84
    answering_cells: np.ndarray | None = None    # (n, 2) centre of the cell answering each point (NaN: none)
    centre: tuple[float, float] | None = None    # radius: the centre (lon, lat) whose circle this grid holds
