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


ALL = AxisRequest()


@dataclass
class Query:
    kind: str                                    # position | area | cube
    points: np.ndarray | None = None             # (n, 2) lon/lat for position
    multi: bool = False                          # MULTIPOINT asked (answer stays a multi-point domain)
    polygon: object | None = None                # shapely (Multi)Polygon for area
    bbox: tuple[float, float, float, float] | None = None   # west, south, east, north
    time: AxisRequest = field(default_factory=AxisRequest)
    z: AxisRequest = field(default_factory=AxisRequest)
    custom: dict[str, AxisRequest] = field(default_factory=dict)
    parameters: list[str] | None = None
