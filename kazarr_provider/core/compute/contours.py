"""Isolines and isobands of a 2-D field: the computation behind the `isolines` and `isobands` processes.

Numpy arrays in, lon/lat geometry out; no dataset, web or pygeoapi code here.

The field is contoured in INDEX space by contourpy (x = column, y = row, corner_mask off: a quad with a
missing corner is left out whole), so each vertex is a fractional index on a cell edge (one of its two
coordinates an integer) or, for isobands, a grid point. Each vertex is then mapped through the 2-D
cell-centre coordinates by interpolation along that edge, which works alike for regular, descending,
0..360, antimeridian-crossing, projected and curvilinear grids: the vertex lies where the field's linear
interpolation along the edge equals the level. Longitudes are made continuous per edge (the far end
taken within 180 degrees of the near one), so an edge spanning ±180 interpolates across it; lines and
polygons crossing ±180 are then split there (antimeridian.py).

A global grid whose last column is not joined to its first leaves a one-cell gap at the seam: the caller
may append the first column (lon + 360) to close it.
"""
from __future__ import annotations

import math
from numbers import Real

import numpy as np
from contourpy import FillType, LineType, contour_generator

from ...errors import InvalidParameter
from .antimeridian import split_lines, split_polygons

MAX_LEVELS = 1000

Line = np.ndarray            # (n, 2) float64 lon/lat
Polygon = list[np.ndarray]   # [outer ring, *holes], each a closed (n, 2) float64 lon/lat array


def _invalid(message: str) -> InvalidParameter:
    return InvalidParameter(f'levels: {message}', 'levels')


def _number(value, what: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise _invalid(f'{what} must be a number, got {value!r}')
    value = float(value)
    if not math.isfinite(value):
        raise _invalid(f'{what} must be a finite number, got {value!r}')
    return value


def contour_levels(spec, values: np.ndarray) -> np.ndarray:
    """The levels asked: a list of numbers (kept in request order) or `{"step": s, "min": a, "max": b}`,
    the multiples of `s` (> 0) from the first >= a to the last <= b (a and b default to the finite
    minimum and maximum of `values`; no finite value then gives no level). At most MAX_LEVELS levels.
    Raises InvalidParameter naming 'levels'."""
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise _invalid('expected a list of at least one number or {"step": ..., "min": ..., "max": ...}')
        if len(spec) > MAX_LEVELS:
            raise _invalid(f'{len(spec)} levels asked; at most {MAX_LEVELS} are allowed')
        return np.array([_number(v, 'each level') for v in spec], dtype='float64')
    if not isinstance(spec, dict):
        raise _invalid(f'expected a list of numbers or {{"step": ..., "min": ..., "max": ...}}, got {spec!r}')
    unknown = sorted(set(spec) - {'step', 'min', 'max'}, key=str)
    if unknown:
        raise _invalid(f'unknown key(s) {unknown}; expected "step" and optionally "min" and "max"')
    if 'step' not in spec:
        raise _invalid('"step" is missing; expected {"step": s, "min": a, "max": b} with s > 0')
    step = _number(spec['step'], '"step"')
    if step <= 0:
        raise _invalid(f'"step" must be greater than 0, got {step!r}')
    bounds = {key: _number(spec[key], f'"{key}"') for key in ('min', 'max') if spec.get(key) is not None}
    if len(bounds) < 2:
        finite = np.asarray(values, dtype='float64')
        finite = finite[np.isfinite(finite)]
        if finite.size == 0:
            return np.empty(0, dtype='float64')
        bounds.setdefault('min', float(finite.min()))
        bounds.setdefault('max', float(finite.max()))
    low, high = bounds['min'], bounds['max']
    if low > high:
        raise _invalid(f'"min" ({low!r}) is greater than "max" ({high!r})')
    first = math.ceil(low / step - 1e-9)        # tolerance: 0.3 / 0.1 is 2.9999999999999996
    last = math.floor(high / step + 1e-9)
    count = last - first + 1
    if count > MAX_LEVELS:
        raise _invalid(f'step {step!r} from {low!r} to {high!r} gives {count} levels; '
                       f'at most {MAX_LEVELS} are allowed')
    return np.arange(first, last + 1, dtype='float64') * step


def _prepared(values, lon, lat) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values = np.asarray(values, dtype='float64')
    lon, lat = np.asarray(lon, dtype='float64'), np.asarray(lat, dtype='float64')
    if values.ndim != 2 or lon.shape != values.shape or lat.shape != values.shape:
        raise ValueError(f'values {values.shape}, lon {lon.shape} and lat {lat.shape} must be one 2-D shape')
    located = np.isfinite(lon) & np.isfinite(lat)
    if not located.all():                       # a cell without coordinates cannot be contoured
        values = np.where(located, values, np.nan)
    return values, lon, lat


def _snapped(xy: np.ndarray) -> np.ndarray:
    """contourpy's vertex on a cell edge may miss the integer index by an ulp: put it back on the edge."""
    whole = np.round(xy)
    return np.where(np.abs(xy - whole) < 1e-9, whole, xy)


def _generator(values: np.ndarray):
    return contour_generator(z=values, line_type=LineType.SeparateCode, fill_type=FillType.OuterOffset,
                             corner_mask=False, chunk_size=0)


def _contourable(values: np.ndarray) -> bool:
    return values.ndim == 2 and min(values.shape) >= 2


def index_lines(values: np.ndarray, level: float) -> list[np.ndarray]:
    """Contours of `level` in index space: (n, 2) arrays of (column, row) fractional indices; a closed
    contour repeats its first point."""
    values = np.asarray(values, dtype='float64')
    if not _contourable(values):
        return []
    return [_snapped(line) for line in _generator(values).lines(float(level))[0]]


def index_bands(values: np.ndarray, lower: float, upper: float) -> list[list[np.ndarray]]:
    """The region lower <= value < upper in index space: polygons [outer, *holes] of closed (n, 2)
    (column, row) rings, in contourpy's orientation."""
    values = np.asarray(values, dtype='float64')
    if not _contourable(values):
        return []
    # contourpy fills lower < z <= upper: on -z that is lower <= value < upper
    points, offsets = _generator(-values).filled(-float(upper), -float(lower))
    return [np.split(_snapped(p), o[1:-1]) for p, o in zip(points, offsets)]


def map_points(xy: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(column, row) fractional indices on cell edges to lon/lat: linear interpolation of the cell-centre
    coordinates along the edge, exact at grid points (bilinear for the rare vertex inside a cell). The
    far end's longitude is taken within 180 degrees of the near end's, so the result's longitudes may
    leave [-180, 180] (the caller wraps them)."""
    ny, nx = lon.shape
    x, y = xy[:, 0], xy[:, 1]
    j = np.clip(np.floor(x).astype(np.intp), 0, nx - 1)
    i = np.clip(np.floor(y).astype(np.intp), 0, ny - 1)
    fx, fy = x - j, y - i
    on_row = fy == 0                            # on row i between columns j and j + 1, else on column j
    t = np.where(on_row, fx, fy)
    i1 = np.minimum(np.where(on_row, i, i + 1), ny - 1)
    j1 = np.minimum(np.where(on_row, j + 1, j), nx - 1)
    lon0, lat0 = lon[i, j], lat[i, j]
    with np.errstate(invalid='ignore'):
        out_lon = np.where(t == 0, lon0, lon0 + t * _nearest_turn(lon[i1, j1] - lon0))
        out_lat = np.where(t == 0, lat0, lat0 + t * (lat[i1, j1] - lat0))
    inside = (fx != 0) & (fy != 0)
    if inside.any():
        out_lon[inside], out_lat[inside] = _bilinear(x[inside], y[inside], lon, lat)
    return out_lon, out_lat


def _nearest_turn(dlon: np.ndarray) -> np.ndarray:
    """A longitude difference taken within [-180, 180]."""
    return np.where(np.abs(dlon) > 180.0, np.mod(dlon + 180.0, 360.0) - 180.0, dlon)


def _bilinear(x, y, lon, lat):
    j = np.clip(np.floor(x).astype(np.intp), 0, lon.shape[1] - 2)
    i = np.clip(np.floor(y).astype(np.intp), 0, lon.shape[0] - 2)
    fx, fy = x - j, y - i
    near = lon[i, j]
    out_lon, out_lat = np.zeros(len(x)), np.zeros(len(x))
    for w, di, dj in (((1 - fy) * (1 - fx), 0, 0), ((1 - fy) * fx, 0, 1), (fy * (1 - fx), 1, 0), (fy * fx, 1, 1)):
        out_lon += w * (near + _nearest_turn(lon[i + di, j + dj] - near))
        out_lat += w * lat[i + di, j + dj]
    return out_lon, out_lat


def _mapped(pieces: list[np.ndarray], lon, lat):
    """Map the concatenation of `pieces` once; return lon, lat and the pieces' offsets."""
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in pieces])]).astype(np.intp)
    out_lon, out_lat = map_points(_snapped(np.concatenate(pieces)), lon, lat)
    return out_lon, out_lat, offsets


def isolines(values: np.ndarray, lon: np.ndarray, lat: np.ndarray, levels) -> list[list[Line]]:
    """For each level (in the order given), its contours as separate (n, 2) float64 lon/lat lines (a
    closed contour repeats its first point; pieces of a contour split at ±180 are open). NaN values are
    missing; `lon`, `lat` are the (ny, nx) cell-centre coordinates of `values`."""
    values, lon, lat = _prepared(values, lon, lat)
    levels = np.atleast_1d(np.asarray(levels, dtype='float64'))
    if not _contourable(values):
        return [[] for _ in levels]
    generator = _generator(values)
    result = []
    for level in levels:
        lines = generator.lines(float(level))[0]
        if not lines:
            result.append([])
            continue
        out_lon, out_lat, offsets = _mapped(lines, lon, lat)
        result.append(split_lines(out_lon, out_lat, offsets))
    return result


def isobands(values: np.ndarray, lon: np.ndarray, lat: np.ndarray, levels) -> list[list[Polygon]]:
    """For each consecutive pair of levels (strictly increasing), the region lower <= value < upper as
    RFC 7946 polygons [outer ring, *holes]: rings closed, outer counter-clockwise and holes clockwise in
    lon/lat, cut at ±180. NaN values are missing."""
    values, lon, lat = _prepared(values, lon, lat)
    levels = np.atleast_1d(np.asarray(levels, dtype='float64'))
    if levels.size and not np.isfinite(levels).all():
        raise _invalid('isobands need finite levels')
    if np.any(np.diff(levels) <= 0):
        raise _invalid(f'isobands need strictly increasing levels, got {levels.tolist()}')
    bands = max(levels.size - 1, 0)
    if not _contourable(values):
        return [[] for _ in range(bands)]
    generator = _generator(-values)             # contourpy fills lower < z <= upper; on -z: lower <= v < upper
    result = []
    for lower, upper in zip(levels[:-1], levels[1:]):
        points, offsets = generator.filled(-float(upper), -float(lower))
        if not points:
            result.append([])
            continue
        out_lon, out_lat, starts = _mapped(points, lon, lat)
        rings = np.concatenate([o[:-1].astype(np.intp) + start for o, start in zip(offsets, starts)]
                               + [starts[-1:]])
        polygon_rings = np.concatenate([[0], np.cumsum([len(o) - 1 for o in offsets])]).astype(np.intp)
        result.append(split_polygons(out_lon, out_lat, rings, polygon_rings))
    return result


def geojson_multilinestring(lines: list[Line]) -> dict:
    """GeoJSON MultiLineString geometry of the lines (plain float lists)."""
    return {'type': 'MultiLineString', 'coordinates': [np.asarray(line, dtype='float64').tolist() for line in lines]}


def geojson_multipolygon(polygons: list[Polygon]) -> dict:
    """GeoJSON MultiPolygon geometry of the polygons (plain float lists)."""
    return {'type': 'MultiPolygon',
            'coordinates': [[np.asarray(ring, dtype='float64').tolist() for ring in polygon] for polygon in polygons]}
