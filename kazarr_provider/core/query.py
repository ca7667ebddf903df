"""A parsed request, independent of how it arrived (GET, POST, pygeoapi)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class AxisRequest:
    """What a request asks of one axis: everything, some values, or an interval."""

    values: np.ndarray | None = None       # explicit values (nearest cell each)
    interval: tuple[float | None, float | None] | None = None   # inclusive, None = open
    text: str = ''                          # as given, for error messages
    labels: list[str] | None = None         # exact labels for non-numeric custom dims

    @property
    def is_all(self) -> bool:
        return self.values is None and self.interval is None and self.labels is None


@dataclass
class Interpolation:
    """How point samples are computed: `spatial` in nearest|linear|cubic|idw|rbf, `time` in nearest|linear."""

    spatial: str = 'nearest'
    params: dict = field(default_factory=dict)
    time: str = 'nearest'

    @property
    def is_nearest(self) -> bool:
        return self.spatial == 'nearest' and self.time == 'nearest'


@dataclass
class Query:
    kind: str                                    # position | radius | area | cube | trajectory | corridor
    points: np.ndarray | None = None             # (n, 2) lon/lat: position points, radius centres, path vertices
    multi: bool = False                          # MULTIPOINT asked (answer stays a multi-point domain)
    polygon: object | None = None                # shapely (Multi)Polygon for area
    bbox: tuple[float, float, float, float] | None = None   # west, south, east, north
    time: AxisRequest = field(default_factory=AxisRequest)
    z: AxisRequest = field(default_factory=AxisRequest)
    custom: dict[str, AxisRequest] = field(default_factory=dict)
    parameters: list[str] | None = None
    within_m: float | None = None                # radius, metres
    vertex_z: np.ndarray | None = None           # trajectory Z per vertex
    vertex_t: np.ndarray | None = None           # trajectory M per vertex (seconds in the data's calendar)
    line: object | None = None                   # shapely LineString (trajectory, corridor)
    width_m: float | None = None                 # corridor full width, metres
    height: float | None = None                  # corridor full height, in the vertical axis' units
    interpolation: Interpolation = field(default_factory=Interpolation)
    native_crs: bool = False                     # answer in the grid's own CRS (`crs` parameter)
