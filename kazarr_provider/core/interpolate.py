"""Spatial interpolation of point samples on a regular lon/lat grid.

Each method works on a small neighbourhood of cells around each point, read
once for all points: linear (2x2, bilinear), cubic (4x4, scipy's
RegularGridInterpolator), idw (cells within `radius` km, weights 1/d^power)
and rbf (the `neighbors` nearest cells, scipy's RBFInterpolator). Nothing is
extrapolated: a point without the neighbourhood its method needs (beyond the
outermost cell centres of a regional grid, or next to a missing value) gets
NaN, never a value from another method.
"""
from __future__ import annotations

import numpy as np
from pyproj import Geod
from scipy.interpolate import RBFInterpolator, RegularGridInterpolator

from ..errors import InvalidParameter, TooLarge
from .coords import Axis
from .model import GridModel

EARTH_RADIUS_KM = 6371.0088
MAX_NEIGHBOURHOOD = 4096


def _sorted_window(axis: Axis, q: np.ndarray, before: int, after: int, periodic: bool):
    """Sorted-axis indices j-before+1 .. j+after around j = last centre <= q, and their coordinates.

    Periodic (global longitude) windows wrap, with coordinates shifted by 360 to stay continuous.
    Returns (indices (n, k), coordinates (n, k), valid (n, k)).
    """
    n = axis.size
    j = np.searchsorted(axis.sorted, q, side='right') - 1
    offsets = np.arange(-before + 1, after + 1)
    raw = j[:, None] + offsets[None, :]
    if periodic:
        turns = np.floor_divide(raw, n)
        index = raw - turns * n
        coords = axis.sorted[index] + 360.0 * turns
        valid = np.ones(index.shape, bool)
    else:
        valid = (raw >= 0) & (raw < n)
        index = np.clip(raw, 0, n - 1)
        coords = axis.sorted[index]
    return index, coords, valid


def _storage(axis: Axis, sorted_index: np.ndarray) -> np.ndarray:
    return axis.size - 1 - sorted_index if axis.descending else sorted_index


def _local_km(lon, lat, lon0, lat0, metres: bool = False):
    """Kilometres around (lon0, lat0): projected metres / 1000, or equirectangular from degrees."""
    if metres:
        return (lon - lon0[..., None]) / 1000.0, (lat - lat0[..., None]) / 1000.0
    x = np.radians(lon - lon0[..., None]) * np.cos(np.radians(lat0[..., None])) * EARTH_RADIUS_KM
    y = np.radians(lat - lat0[..., None]) * EARTH_RADIUS_KM
    return x, y


class Neighbourhood:
    """For each of n points, k cells: storage indices, coordinates, validity."""

    def __init__(self, model: GridModel, lon: np.ndarray, lat: np.ndarray, half_x: int, half_y: int):
        """`lon`/`lat` are the points in the grid's own coordinates (metres on a projected grid)."""
        x_axis, y_axis = model.x_axis, model.y_axis
        periodic = getattr(x_axis, 'is_global', False)
        lon = x_axis.fold(lon) if hasattr(x_axis, 'fold') else lon
        self.lon, self.lat = lon, lat
        self.metres = model.projected          # distances: native metres, or degrees converted to km
        xs, xc, xv = _sorted_window(x_axis, lon, half_x, half_x, periodic)
        ys, yc, yv = _sorted_window(y_axis, lat, half_y, half_y, False)
        self.shape = (ys.shape[1], xs.shape[1])
        # (n, ky, kx) grids of the window
        self.iy = np.broadcast_to(_storage(y_axis, ys)[:, :, None], (lon.size,) + self.shape)
        self.ix = np.broadcast_to(_storage(x_axis, xs)[:, None, :], (lon.size,) + self.shape)
        self.lat_c = yc
        self.lon_c = xc
        self.valid = yv[:, :, None] & xv[:, None, :]


GEOD = Geod(ellps='WGS84')


def within_geodesic(hood: Neighbourhood, model: GridModel, lon: np.ndarray, lat: np.ndarray,
                    metres: float) -> np.ndarray:
    """(n, ky, kx): which neighbourhood cells lie within `metres` of their point, on the ellipsoid."""
    cell_x = np.broadcast_to(hood.lon_c[:, None, :], hood.valid.shape)
    cell_y = np.broadcast_to(hood.lat_c[:, :, None], hood.valid.shape)
    cell_lon, cell_lat = model.lonlat(cell_x.ravel(), cell_y.ravel()) if model.projected else \
        (cell_x.ravel(), cell_y.ravel())
    k = hood.valid[0].size
    _, _, distance = GEOD.inv(np.repeat(lon, k), np.repeat(lat, k), np.asarray(cell_lon, float),
                              np.asarray(cell_lat, float))
    return (distance <= metres).reshape(hood.valid.shape)


def neighbourhood_size(method: str, params: dict, model: GridModel, lat: np.ndarray) -> tuple[int, int]:
    """Half-widths (cells) of the window each method needs."""
    if method == 'linear':
        return 1, 1
    if method == 'cubic':
        return 2, 2
    if model.projected:
        dy_km = np.abs(np.diff(model.y_axis.edges)).min() / 1000.0
        dx_km = np.abs(np.diff(model.x_axis.edges)).min() / 1000.0
    else:
        dy_km = np.radians(np.abs(np.diff(model.y_axis.edges)).min()) * EARTH_RADIUS_KM
        coslat = max(np.cos(np.radians(np.abs(lat).max())), 1e-6)
        dx_km = np.radians(np.abs(np.diff(model.x_axis.edges)).min()) * EARTH_RADIUS_KM * coslat
    if method == 'idw':
        radius = params.get('radius')
        if radius is None:
            return 2, 2                  # the 4x4 cells around the point: every cell within 1.5 cells
        half_y = int(np.ceil(radius / dy_km)) + 1
        half_x = int(np.ceil(radius / dx_km)) + 1
    else:  # rbf: a window holding comfortably more than the `neighbors` nearest cells, in km not in cells
        side = int(np.ceil(np.sqrt(params['neighbors']))) + 2
        half_y = side // 2 + 1
        # cells narrow towards the poles: widen in x, within the neighbourhood cap
        half_x = min(int(np.ceil(half_y * dy_km / dx_km)), MAX_NEIGHBOURHOOD // (4 * half_y))
    half_x = min(half_x, model.x_axis.size // 2)
    if (2 * half_x) * (2 * half_y) > MAX_NEIGHBOURHOOD:
        raise TooLarge(f'the {method} neighbourhood would hold {(2 * half_x) * (2 * half_y):,} cells per point, '
                       f'over the limit of {MAX_NEIGHBOURHOOD:,}; use a smaller radius (the idw radius, or within on a '
                       f'radius query)', 'interpolation-params')
    return half_x, half_y


def combine(method: str, params: dict, hood: Neighbourhood, values: np.ndarray) -> np.ndarray:
    """values (..., n, ky, kx) on the neighbourhood -> (..., n) at the points."""
    if method == 'linear':
        return _bilinear(hood, values)
    if method == 'cubic':
        return _cubic(hood, values)
    if method == 'idw':
        return _idw(hood, values, params)
    return _rbf(hood, values, params)


def _bilinear(hood: Neighbourhood, values: np.ndarray) -> np.ndarray:
    x0, x1 = hood.lon_c[:, 0], hood.lon_c[:, 1]
    y0, y1 = hood.lat_c[:, 0], hood.lat_c[:, 1]
    fx = (hood.lon - x0) / (x1 - x0)
    fy = (hood.lat - y0) / (y1 - y0)
    w = np.stack([(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx], axis=-1)   # (n, 4)
    flat = values.reshape(values.shape[:-2] + (4,))
    out = np.einsum('...nk,nk->...n', flat, w)
    return np.where(hood.valid.all(axis=(1, 2)), out, np.nan)


def _cubic(hood: Neighbourhood, values: np.ndarray) -> np.ndarray:
    lead = values.shape[:-3]
    out = np.full(lead + (hood.lon.size,), np.nan)
    for p in range(hood.lon.size):
        if not hood.valid[p].all():
            continue
        block = np.moveaxis(values[..., p, :, :], (-2, -1), (0, 1))        # (ky, kx, ...)
        # scipy refuses NaN: fit on zeros, then void every slice whose stencil held a missing value
        missing = np.isnan(block).any(axis=(0, 1))
        interpolator = RegularGridInterpolator((hood.lat_c[p], hood.lon_c[p]), np.nan_to_num(block),
                                               method='cubic')
        out[..., p] = np.where(missing, np.nan, interpolator([[hood.lat[p], hood.lon[p]]])[0])
    return out


def _distances_km(hood: Neighbourhood) -> np.ndarray:
    lon_c = np.broadcast_to(hood.lon_c[:, None, :], hood.valid.shape)
    lat_c = np.broadcast_to(hood.lat_c[:, :, None], hood.valid.shape)
    x, y = _local_km(lon_c.reshape(len(hood.lon), -1), lat_c.reshape(len(hood.lon), -1), hood.lon, hood.lat,
                     hood.metres)
    return np.hypot(x, y)                                                  # (n, k)


def _idw(hood: Neighbourhood, values: np.ndarray, params: dict) -> np.ndarray:
    d = _distances_km(hood)
    valid = hood.valid.reshape(d.shape).copy()
    if params.get('radius') is not None:
        valid &= d <= params['radius']
    flat = values.reshape(values.shape[:-2] + (d.shape[1],))
    exact = valid & (d < 1e-9)
    # weights relative to the nearest cell's: (d_min / d)^power stays in [0, 1], so a large power tends to
    # nearest instead of underflowing every weight to 0
    nearest = np.min(np.where(valid, d, np.inf), axis=1, keepdims=True)
    with np.errstate(divide='ignore', invalid='ignore'):
        w = np.where(valid, (nearest / np.maximum(d, 1e-12)) ** params['power'], 0.0)
    w = np.where(exact.any(axis=1, keepdims=True), exact.astype(float), w)
    total = w.sum(axis=1)
    weighted = np.einsum('...nk,nk->...n', np.where(np.isnan(flat), 0.0, flat), w)
    # a missing value among the weighted cells makes the answer missing, not silently re-weighted
    touched = np.einsum('...nk,nk->...n', np.isnan(flat).astype(float), (w > 0).astype(float)) > 0
    with np.errstate(invalid='ignore', divide='ignore'):
        out = weighted / total
    return np.where((total > 0) & ~touched, out, np.nan)


def _rbf(hood: Neighbourhood, values: np.ndarray, params: dict) -> np.ndarray:
    d = _distances_km(hood)
    lead = values.shape[:-3]
    flat = values.reshape(lead + (hood.lon.size, d.shape[1]))
    out = np.full(lead + (hood.lon.size,), np.nan)
    lon_c = np.broadcast_to(hood.lon_c[:, None, :], hood.valid.shape).reshape(d.shape)
    lat_c = np.broadcast_to(hood.lat_c[:, :, None], hood.valid.shape).reshape(d.shape)
    k = params['neighbors']
    for p in range(hood.lon.size):
        candidates = np.flatnonzero(hood.valid[p].ravel())
        if candidates.size < k:
            continue
        chosen = candidates[np.argsort(d[p, candidates], kind='stable')[:k]]
        sample = np.moveaxis(flat[..., p, chosen], -1, 0).reshape(k, -1)      # (k, m)
        if np.isnan(sample).any():
            continue
        x, y = _local_km(lon_c[p, chosen][None], lat_c[p, chosen][None], hood.lon[p:p + 1], hood.lat[p:p + 1],
                         hood.metres)
        xy = np.column_stack([x[0], y[0]])
        kwargs = {'kernel': params['kernel'], 'smoothing': params['smoothing']}
        if 'epsilon' in params:
            kwargs['epsilon'] = params['epsilon']
        try:
            fitted = RBFInterpolator(xy, sample, **kwargs)
        except (np.linalg.LinAlgError, ValueError) as error:
            raise InvalidParameter(f'interpolation-params: the rbf fit cannot be solved for these cells '
                                   f'({error}); choose another kernel, epsilon or neighbors',
                                   'interpolation-params') from None
        out[..., p] = fitted(np.zeros((1, 2)))[0].reshape(lead)
    return out
