"""Spatial interpolation of point samples on a regular lon/lat grid.

Each method works on a small neighbourhood of cells around each point, read
once for all points: linear (2x2, bilinear), cubic (4x4, tensor-product cubic
Lagrange: what scipy's RegularGridInterpolator 'cubic' gives on 4x4 nodes),
idw (cells within `radius` km, weights 1/d^power) and rbf (the `neighbors`
nearest cells, the system scipy's RBFInterpolator solves). Nothing is
extrapolated: a point without the neighbourhood its method needs (beyond the
outermost cell centres of a regional grid, or next to a missing value) gets
NaN, never a value from another method.

Every method is computed for all points at once (numpy over the point axis:
weights per point, one einsum, or batched linear solves), never point by point.
"""
from __future__ import annotations

from itertools import combinations_with_replacement

import numpy as np
from pyproj import Geod

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
                       f'over the limit of {MAX_NEIGHBOURHOOD:,}; use a smaller radius (the idw radius, or a smaller '
                       f'circle on a radius query)', field='interpolation-params')
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
    with np.errstate(divide='ignore', invalid='ignore'):      # clipped windows beyond the grid: NaN below
        fx = (hood.lon - x0) / (x1 - x0)
        fy = (hood.lat - y0) / (y1 - y0)
    w = np.stack([(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx], axis=-1)   # (n, 4)
    flat = values.reshape(values.shape[:-2] + (4,))
    out = np.einsum('...nk,nk->...n', flat, w)
    return np.where(hood.valid.all(axis=(1, 2)), out, np.nan)


def _lagrange_weights(nodes: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(n, 4) weights of the cubic through 4 nodes per point (nodes (n, 4), q (n,)): sum w_j f_j = p(q)."""
    w = np.ones(nodes.shape)
    for j in range(4):
        for m in range(4):
            if m != j:
                w[:, j] *= (q - nodes[:, m]) / (nodes[:, j] - nodes[:, m])
    return w


def _cubic(hood: Neighbourhood, values: np.ndarray) -> np.ndarray:
    """Tensor-product cubic through the 4x4 cell centres around each point.

    On 4 nodes per axis scipy's cubic spline (RegularGridInterpolator 'cubic') is this one cubic polynomial; here
    exact, where scipy's default iterative solver (gcrotmk) stops at its tolerance (up to ~1e-3 relative off on
    smooth fields). A missing value in a point's stencil makes that slice missing, as does a stencil beyond the grid.
    """
    complete = hood.valid.all(axis=(1, 2))
    # points without a full stencil get NaN anyway: keep their (clipped, possibly repeated) nodes out of the division
    lon_c = np.where(complete[:, None], hood.lon_c, np.arange(4.0))
    lat_c = np.where(complete[:, None], hood.lat_c, np.arange(4.0))
    wx = _lagrange_weights(lon_c, np.where(complete, hood.lon, 1.5))
    wy = _lagrange_weights(lat_c, np.where(complete, hood.lat, 1.5))
    rows = np.einsum('...nyx,nx->...ny', values, wx)                        # NaN anywhere in a row stays NaN
    out = np.einsum('...ny,ny->...n', rows, wy)
    return np.where(complete, out, np.nan)


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


# scipy.interpolate.RBFInterpolator's kernels (its _rbfinterp_xp.py) and minimum polynomial degrees
_RBF_KERNELS = {
    'linear': lambda r: -r,
    'thin_plate_spline': lambda r: r ** 2 * np.log(np.where(r == 0, 1.0, r)),    # 0 at r = 0, as in scipy
    'cubic': lambda r: r ** 3,
    'quintic': lambda r: -r ** 5,
    'multiquadric': lambda r: -np.sqrt(r ** 2 + 1),
    'inverse_multiquadric': lambda r: 1.0 / np.sqrt(r ** 2 + 1.0),
    'inverse_quadratic': lambda r: 1.0 / (r ** 2 + 1.0),
    'gaussian': lambda r: np.exp(-r ** 2),
}
_RBF_SCALE_INVARIANT = ('linear', 'thin_plate_spline', 'cubic', 'quintic')
_RBF_MIN_DEGREE = {'multiquadric': 0, 'linear': 0, 'thin_plate_spline': 1, 'cubic': 1, 'quintic': 2}
_RBF_SOLVE_BYTES = 2 ** 20              # systems built and solved at once: small, cache-sized temporaries are fastest


def _monomial_powers(degree: int) -> np.ndarray:
    """(r, 2) exponents of the 2-D monomials of degree 0..`degree`, in scipy's order."""
    powers = [[mono.count(0), mono.count(1)] for deg in range(degree + 1)
              for mono in combinations_with_replacement(range(2), deg)]
    return np.array(powers, 'int64').reshape(-1, 2)


def _monomials(xy: np.ndarray, powers: np.ndarray) -> np.ndarray:
    """(..., 2) -> (..., r): x^a * y^b for each row (a, b) of `powers`."""
    return np.stack([xy[..., 0] ** int(a) * xy[..., 1] ** int(b) for a, b in powers], axis=-1)


def _rbf_solve(xy: np.ndarray, data: np.ndarray, params: dict) -> np.ndarray:
    """RBF fits through `data` (n, k, m) at `xy` (n, k, 2), each evaluated at its own origin -> (n, m).

    Builds and solves, for all n at once, the system scipy's RBFInterpolator builds for one neighbourhood:
    kernel(epsilon * |y_i - y_j|) + smoothing on the diagonal, augmented by the monomials (up to scipy's default
    degree for the kernel) of the coordinates shifted and scaled to [-1, 1] per neighbourhood.
    """
    kernel = _RBF_KERNELS[params['kernel']]
    if 'epsilon' not in params and params['kernel'] not in _RBF_SCALE_INVARIANT:
        raise ValueError(f'`epsilon` must be specified if `kernel` is not one of {_RBF_SCALE_INVARIANT}.')
    epsilon = float(params.get('epsilon', 1.0))
    powers = _monomial_powers(max(_RBF_MIN_DEGREE.get(params['kernel'], -1), 0))
    n, k, m = data.shape
    r = powers.shape[0]
    mins, maxs = xy.min(axis=1), xy.max(axis=1)                               # (n, 2)
    shift = (maxs + mins) / 2
    scale = (maxs - mins) / 2
    scale = np.where(scale == 0.0, 1.0, scale)
    x, y = xy[..., 0] * epsilon, xy[..., 1] * epsilon
    lhs = np.zeros((n, k + r, k + r))
    dx, dy = x[:, :, None] - x[:, None, :], y[:, :, None] - y[:, None, :]
    lhs[:, :k, :k] = kernel(np.sqrt(dx * dx + dy * dy))
    lhs[:, np.arange(k), np.arange(k)] += float(params.get('smoothing', 0.0))
    poly = _monomials((xy - shift[:, None, :]) / scale[:, None, :], powers)   # (n, k, r)
    lhs[:, :k, k:] = poly
    lhs[:, k:, :k] = np.swapaxes(poly, 1, 2)
    rhs = np.zeros((n, k + r, m))
    rhs[:, :k] = data
    try:
        coeffs = np.linalg.solve(lhs, rhs)                                      # (n, k + r, m)
    except np.linalg.LinAlgError:
        # named after the first singular system, as scipy would have, point by point
        first = next((p for p in range(n) if _singular(lhs[p])), 0)
        message = 'Singular matrix.'
        rank = np.linalg.matrix_rank(poly[first]) if r else r
        if rank < r:
            message = (f'Singular matrix. The matrix of monomials evaluated at the data point coordinates does '
                       f'not have full column rank ({rank}/{r}).')
        raise np.linalg.LinAlgError(message) from None
    # evaluated at the point itself, the origin of its local frame
    at_point = np.concatenate([kernel(np.sqrt(x * x + y * y)),
                               _monomials((-shift / scale)[:, None, :], powers)[:, 0]], axis=1)
    return np.einsum('nk,nkm->nm', at_point, coeffs)


def _singular(matrix: np.ndarray) -> bool:
    try:
        np.linalg.solve(matrix, np.zeros(matrix.shape[0]))
    except np.linalg.LinAlgError:
        return True
    return False


def _rbf(hood: Neighbourhood, values: np.ndarray, params: dict) -> np.ndarray:
    d = _distances_km(hood)
    lead = values.shape[:-3]
    n, cells = d.shape
    flat = values.reshape((-1, n, cells))                                    # (m, n, cells)
    out = np.full((flat.shape[0], n), np.nan)
    k = params['neighbors']
    valid = hood.valid.reshape(d.shape)
    # the k nearest valid cells, ties in storage order (a stable sort: the cells' order in the window)
    chosen = np.argsort(np.where(valid, d, np.inf), axis=1, kind='stable')[:, :k]
    sample = np.take_along_axis(flat, chosen[None], axis=2)                   # (m, n, k)
    # a point is answered with enough cells, none of them missing in any slice (then every slice is missing)
    answered = (valid.sum(axis=1) >= k) & ~np.isnan(sample).any(axis=(0, 2))
    points = np.flatnonzero(answered)
    if points.size == 0:
        return out.reshape(lead + (n,))
    lon_c = np.broadcast_to(hood.lon_c[:, None, :], hood.valid.shape).reshape(d.shape)
    lat_c = np.broadcast_to(hood.lat_c[:, :, None], hood.valid.shape).reshape(d.shape)
    x, y = _local_km(np.take_along_axis(lon_c[points], chosen[points], axis=1),
                     np.take_along_axis(lat_c[points], chosen[points], axis=1), hood.lon[points], hood.lat[points],
                     hood.metres)
    xy = np.stack([x, y], axis=-1)                                            # (p, k, 2)
    data = np.moveaxis(sample[:, points], 0, -1)                              # (p, k, m)
    step = max(16, _RBF_SOLVE_BYTES // (8 * (k + 6) * (k + 6 + data.shape[2])))
    try:
        for start in range(0, points.size, step):
            part = slice(start, start + step)
            out[:, points[part]] = _rbf_solve(xy[part], data[part], params).T
    except (np.linalg.LinAlgError, ValueError) as error:
        raise InvalidParameter(f'the rbf fit cannot be solved for these cells ({error}); choose another kernel, '
                               'epsilon or neighbors', field='interpolation-params') from None
    return out.reshape(lead + (n,))
