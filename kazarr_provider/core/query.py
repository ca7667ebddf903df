"""A parsed request, independent of how it arrived (GET, POST, pygeoapi).

Requests are frozen: the parser builds one `Query` and nothing downstream
writes to it. Selectors that decide something (a mesh region answers a
multi-point domain, corridor-height picks levels) return that decision with
their blocks (`core.select.dispatch.Selected`); where the core needs a derived
request it makes one with `dataclasses.replace`. Arrays held by a request are
made read-only and mappings are read-only views.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np


def _read_only(array: np.ndarray | None) -> np.ndarray | None:
    if array is None:
        return None
    array = np.asarray(array)
    if array.flags.writeable:
        array = array.view()           # the caller's array stays writable; this view does not
        array.flags.writeable = False
    return array


def _freeze(instance, name: str, value):
    object.__setattr__(instance, name, value)


@dataclass(frozen=True)
class AxisRequest:
    """What a request asks of one axis: everything, some values, or an interval."""

    values: np.ndarray | None = None       # explicit values (nearest cell each)
    interval: tuple[float | None, float | None] | None = None   # inclusive, None = open
    text: str = ''                          # as given, for error messages
    labels: tuple[str, ...] | None = None   # exact labels for non-numeric custom dims

    def __post_init__(self):
        _freeze(self, 'values', _read_only(self.values))
        if self.labels is not None:
            _freeze(self, 'labels', tuple(self.labels))
        if self.interval is not None:
            _freeze(self, 'interval', tuple(self.interval))

    @property
    def is_all(self) -> bool:
        return self.values is None and self.interval is None and self.labels is None


@dataclass(frozen=True)
class Interpolation:
    """How point samples are computed: `spatial` in nearest|linear|cubic|idw|rbf, `time` in nearest|linear.

    `params` is a read-only mapping (method parameters, defaults filled in by the parser).
    """

    spatial: str = 'nearest'
    params: Mapping[str, object] = field(default_factory=dict)
    time: str = 'nearest'

    def __post_init__(self):
        _freeze(self, 'params', MappingProxyType(dict(self.params)))

    @property
    def is_nearest(self) -> bool:
        return self.spatial == 'nearest' and self.time == 'nearest'


@dataclass(frozen=True)
class Query:
    kind: str                                    # position | radius | area | cube | trajectory | corridor
    points: np.ndarray | None = None             # (n, 2) lon/lat: position points, radius centres, path vertices
    multi: bool = False                          # MULTIPOINT asked (a mesh region answers multi-point anyway:
                                                 # the selector says so in Selected.multi)
    polygon: object | None = None                # shapely (Multi)Polygon for area
    bbox: tuple[float, float, float, float] | None = None   # west, south, east, north
    time: AxisRequest = field(default_factory=AxisRequest)
    z: AxisRequest = field(default_factory=AxisRequest)
    custom: Mapping[str, AxisRequest] = field(default_factory=dict)
    parameters: tuple[str, ...] | None = None
    within_m: float | None = None                # radius, metres
    vertex_z: np.ndarray | None = None           # trajectory Z per vertex
    vertex_t: np.ndarray | None = None           # trajectory M per vertex (seconds in the data's calendar)
    line: object | None = None                   # shapely LineString (trajectory, corridor)
    width_m: float | None = None                 # corridor full width, metres
    height: float | None = None                  # corridor full height, in the vertical axis' units
    interpolation: Interpolation = field(default_factory=Interpolation)
    native_crs: bool = False                     # answer in the grid's own CRS (`crs` parameter)
    resolution: Mapping[str, int] = field(default_factory=dict)   # decimation asked: x, y (positions) or limit

    def __post_init__(self):
        for name in ('points', 'vertex_z', 'vertex_t'):
            _freeze(self, name, _read_only(getattr(self, name)))
        _freeze(self, 'custom', MappingProxyType(dict(self.custom)))
        _freeze(self, 'resolution', MappingProxyType(dict(self.resolution)))
        if self.parameters is not None:
            _freeze(self, 'parameters', tuple(self.parameters))
        if self.bbox is not None:
            _freeze(self, 'bbox', tuple(self.bbox))
