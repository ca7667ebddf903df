"""Index look-ups on one 1-D coordinate: nearest cell, cells inside an interval.

Everything works on an ascending copy of the coordinate so that descending
latitudes (ERA5) need no special case; results are storage indices.
Longitudes are periodic: `LonAxis` folds a query into the axis' own
convention (0..360 or -180..180) before looking it up.
"""
from __future__ import annotations

import numpy as np


def cell_edges(values: np.ndarray) -> np.ndarray:
    """Edges of cells centred on ascending `values` (midpoints, half a cell beyond the ends)."""
    n = values.size
    if n == 1:
        return np.array([values[0] - 0.5, values[0] + 0.5]) if np.isfinite(values[0]) else np.array([0.0, 0.0])
    # Regular axes stored in float32 (MUR) jitter: when the spacing is uniform to
    # within float32 rounding, rebuild edges from the float64 mean step.
    step = (values[-1] - values[0]) / (n - 1)
    diffs = np.diff(values)
    float32_jitter = 4 * float(np.finfo('float32').eps) * float(np.abs(values).max())
    if np.allclose(diffs, step, rtol=1e-4, atol=float32_jitter):
        return values[0] - step / 2 + step * np.arange(n + 1)
    mid = (values[1:] + values[:-1]) / 2
    return np.concatenate([[values[0] - diffs[0] / 2], mid, [values[-1] + diffs[-1] / 2]])


class Axis:
    """A numeric 1-D coordinate; `lo`/`hi` bound where a query still finds a cell."""

    def __init__(self, values: np.ndarray, bounded_by_edges: bool = True):
        values = np.asarray(values, dtype='float64')
        self.size = values.size
        self.descending = self.size > 1 and values[-1] < values[0]
        self.sorted = values[::-1] if self.descending else values
        self.edges = cell_edges(self.sorted)
        self.lo, self.hi = (self.edges[0], self.edges[-1]) if bounded_by_edges else (self.sorted[0], self.sorted[-1])

    def _to_storage(self, sorted_index: np.ndarray) -> np.ndarray:
        return self.size - 1 - sorted_index if self.descending else sorted_index

    def nearest(self, q) -> np.ndarray:
        """Storage index of the cell holding each query value, -1 where outside."""
        q = np.atleast_1d(np.asarray(q, dtype='float64'))
        inner = np.clip(np.searchsorted(self.edges, q, side='right') - 1, 0, self.size - 1)
        # between-step instants (bounded_by_edges=False) go to the nearer step
        inside = (q >= self.lo) & (q <= self.hi)
        return np.where(inside, self._to_storage(inner), -1)

    def between(self, lo: float | None, hi: float | None) -> np.ndarray:
        """Storage indices (ascending) of cells whose centre is in [lo, hi]."""
        lo = -np.inf if lo is None else lo
        hi = np.inf if hi is None else hi
        first = np.searchsorted(self.sorted, lo, side='left')
        last = np.searchsorted(self.sorted, hi, side='right')
        idx = np.arange(first, last)
        return np.sort(self._to_storage(idx))


class LonAxis(Axis):
    """Longitudes in any convention; queries in either convention are folded in."""

    def __init__(self, values: np.ndarray):
        super().__init__(values)
        self.origin = self.edges[0]
        self.is_global = self.edges[-1] - self.edges[0] >= 360 - 1e-6 * 360

    def fold(self, lon) -> np.ndarray:
        """Map longitudes into [origin, origin + 360)."""
        return self.origin + np.mod(np.asarray(lon, dtype='float64') - self.origin, 360.0)

    def nearest(self, q) -> np.ndarray:
        q = self.fold(np.atleast_1d(q))
        if self.is_global:
            # the last cell's far edge is the first cell's near edge, seen from across 360
            inner = np.clip(np.searchsorted(self.edges, q, side='right') - 1, 0, self.size - 1)
            return self._to_storage(inner)
        return super().nearest(q)

    def between_wrapped(self, west: float, east: float) -> tuple[np.ndarray, np.ndarray]:
        """Cells with centres in [west, east] going eastward, crossing the antimeridian when west > east.

        Returns storage indices in eastward order and their longitudes, unwrapped so that
        they keep increasing across the seam (e.g. 170 ... 180, 181 ... 190).
        """
        span = east - west
        if span < 0:
            span += 360.0
        span = min(span, 360.0)
        start = float(self.fold(west))
        stop = start + span
        first = self.between(start, min(stop, self.origin + 360.0))
        pieces = [first]
        lons = [self.sorted[self._to_sorted(first)]]
        if stop > self.origin + 360.0:
            second = self.between(self.origin, stop - 360.0)
            second = second[~np.isin(second, first)]
            pieces.append(second)
            lons.append(self.sorted[self._to_sorted(second)] + 360.0)
        index = np.concatenate(pieces)
        lon = np.concatenate(lons)
        # report in the -180..180 convention where the whole run allows it
        if lon.size and lon[0] >= 180.0:
            lon = lon - 360.0
        return index, lon

    def _to_sorted(self, storage_index: np.ndarray) -> np.ndarray:
        return self.size - 1 - storage_index if self.descending else storage_index


def to_crs84_lon(lon: np.ndarray) -> np.ndarray:
    """Longitudes folded into [-180, 180); values already inside are returned untouched (no rounding noise)."""
    lon = np.asarray(lon, dtype='float64')
    folded = np.mod(lon + 180.0, 360.0) - 180.0
    return np.where((lon >= -180.0) & (lon < 180.0), lon, folded)
