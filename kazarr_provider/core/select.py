"""Select the cells a query asks for and read only them.

Pure functions over (xarray.Dataset, GridModel, Query): no pygeoapi, no HTTP.
Indices are computed on the in-memory coordinates first, the answer's size is
checked against the limit, and only then are the data read, through lazy
(non-dask) backend arrays, so Zarr fetches just the chunks that hold them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
import xarray as xr

from ..errors import NoData, TooLarge
from .coords import Axis, to_crs84_lon
from .model import GridModel
from .query import AxisRequest, Query


@dataclass
class Block:
    """Values of parameters sharing one set of dimensions, on one domain.

    `axes` is ordered like the arrays in `values`: custom dims first, then
    't', 'z', and either 'y', 'x' (grid) or 'point' (points).
    """

    kind: str                                    # 'grid' | 'points'
    axes: dict[str, np.ndarray]
    values: dict[str, np.ndarray]
    point_xy: np.ndarray | None = None           # (n, 2) cell centres for 'points'
    custom_dims: list[str] = field(default_factory=list)


def _resolve(axis: Axis, request: AxisRequest, name: str) -> np.ndarray:
    """Storage indices for one axis request; NoData when it selects nothing."""
    if request.is_all:
        return np.arange(axis.size)
    if request.interval is not None:
        index = axis.between(*request.interval)
    else:
        index = axis.nearest(request.values)
        # storage order keeps the answer's axis monotonic, as CoverageJSON requires
        index = np.unique(index[index >= 0])
    if index.size == 0:
        raise NoData(f'{name}={request.text!r} lies outside the data '
                     f'[{axis.lo:g} .. {axis.hi:g}]' if name != 'datetime' else
                     f'datetime={request.text!r} selects no time step of the data')
    return index


def _custom_index(model: GridModel, dim: str, request: AxisRequest | None) -> np.ndarray:
    axis = model.custom[dim]
    if request is None or request.is_all:
        return np.arange(axis.values.size)
    if request.labels is not None:
        lookup = {v: i for i, v in enumerate(axis.values)}
        return np.array([lookup[v] for v in request.labels], dtype='int64')
    return _resolve(axis.numeric, request, dim)


def _as_indexer(index: np.ndarray):
    """A slice when contiguous: lets the backend use a basic (cheapest) read."""
    if index.size and np.all(np.diff(index) == 1):
        return slice(int(index[0]), int(index[-1]) + 1)
    return index


def _mask_invalid(array: np.ndarray, var) -> np.ndarray:
    if var.valid_range is None:
        return array
    array = array.astype('float64', copy=False) if array.dtype.kind != 'f' else array
    lo, hi = var.valid_range
    return np.where((array < lo) | (array > hi), np.nan, array)


def _groups(model: GridModel, names: list[str]) -> dict[tuple[str, ...], list[str]]:
    groups: dict[tuple[str, ...], list[str]] = {}
    for name in names:
        groups.setdefault(model.variables[name].dims, []).append(name)
    return groups


def _common_indices(model: GridModel, dims: tuple[str, ...], query: Query) -> dict[str, np.ndarray]:
    """Indices of the non-horizontal dims, ordered custom..., t, z."""
    out: dict[str, np.ndarray] = {}
    for dim in dims:
        role = model.role(dim)
        if role == 'custom':
            out[dim] = _custom_index(model, dim, query.custom.get(dim))
    if model.t in dims:
        out[model.t] = _resolve(model.t_axis, query.time, 'datetime')
    if model.z in dims:
        out[model.z] = _resolve(model.z_axis, query.z, 'z')
    return out


def _check_size(count: int, limit: int):
    if count > limit:
        raise TooLarge(f'the answer would hold {count:,} values, over this server\'s limit of {limit:,}; '
                       f'narrow the bbox/coords, datetime, z or parameter-name', None)


def _axis_values(model: GridModel, dim: str, index: np.ndarray) -> np.ndarray:
    role = model.role(dim)
    if role == 't':
        return model.t_seconds[index]
    if role == 'z':
        return model.z_values[index]
    return model.custom[dim].values[index]


def _plan(model: GridModel, query: Query, horizontal_cells: int, limit: int) -> list[tuple]:
    """(dims, parameter names, non-horizontal indices) per group; refuses answers over the limit."""
    plans = []
    total = 0
    for dims, group in _groups(model, query.parameters or list(model.variables)).items():
        common = _common_indices(model, dims, query)
        total += horizontal_cells * int(np.prod([i.size for i in common.values()])) * len(group)
        plans.append((dims, group, common))
    _check_size(total, limit)
    return plans


def _block_axes(model: GridModel, common: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Axis values keyed 't'/'z' or by custom dimension name, in the order of `common`."""
    return {d if model.role(d) == 'custom' else model.role(d): _axis_values(model, d, i) for d, i in common.items()}


def _custom_dims(model: GridModel, common: dict[str, np.ndarray]) -> list[str]:
    return [d for d in common if model.role(d) == 'custom']


def _read(ds: xr.Dataset, name: str, indexers: dict, order: list[str]) -> np.ndarray:
    return ds[name].isel(indexers).transpose(*order).values


def select_points(ds: xr.Dataset, model: GridModel, query: Query, limit: int) -> list[Block]:
    """Nearest cell to each point; points outside the grid are dropped (NoData if all are)."""
    xi = model.x_axis.nearest(query.points[:, 0])
    yi = model.y_axis.nearest(query.points[:, 1])
    inside = (xi >= 0) & (yi >= 0)
    if not inside.any():
        raise NoData('the requested point(s) lie outside the spatial extent of the data')
    xi, yi = xi[inside], yi[inside]
    # nearest-cell answers: two points in one cell are one answer (CoverageJSON axes hold unique values)
    _, first = np.unique(np.column_stack([yi, xi]), axis=0, return_index=True)
    keep = np.sort(first)
    xi, yi = xi[keep], yi[keep]
    plans = _plan(model, query, xi.size, limit)
    point_xy = np.column_stack([to_crs84_lon(model.x_values[xi]), model.y_values[yi]])
    blocks = []
    for dims, group, common in plans:
        order = list(common) + ['point']
        indexers = {dim: _as_indexer(idx) for dim, idx in common.items()}
        values = {}
        for name in group:
            values[name] = _mask_invalid(_read_points(ds, name, indexers, model, xi, yi, order), model.variables[name])
        axes = _block_axes(model, common)
        axes['point'] = np.arange(xi.size)
        blocks.append(Block('points', axes, values, point_xy, _custom_dims(model, common)))
    return blocks


def _read_points(ds, name, indexers, model, xi, yi, order) -> np.ndarray:
    """Pointwise (vectorised) read: zarr fetches each chunk holding a point once, concurrently."""
    pointwise = {model.y: xr.DataArray(yi, dims='point'), model.x: xr.DataArray(xi, dims='point')}
    return ds[name].isel({**indexers, **pointwise}).transpose(*order).values


def select_grid(ds: xr.Dataset, model: GridModel, query: Query, limit: int) -> list[Block]:
    """Cells whose centre lies in the bbox (cube) or in the polygon (area)."""
    if query.kind == 'area':
        west, south, east, north = query.polygon.bounds
    else:
        west, south, east, north = query.bbox
    full_circle = east - west >= 360
    xi, lon = model.x_axis.between_wrapped(west, west + 360 if full_circle else east)
    yi = model.y_axis.between(south, north)
    if xi.size == 0 or yi.size == 0:
        raise NoData('the requested area holds no cell centre of the data')
    inside = None
    if query.kind == 'area':
        # compare in the polygon's own longitude frame (it may be 0..360 or -180..180)
        shift = 360.0 * np.round((west - lon[0]) / 360.0)
        lon_grid, lat_grid = np.meshgrid(lon + shift, model.y_values[yi])
        inside = shapely.contains_xy(query.polygon, lon_grid, lat_grid) | shapely.intersects_xy(
            query.polygon.boundary, lon_grid, lat_grid)
        if not inside.any():
            raise NoData('the polygon holds no cell centre of the data')
        rows, cols = np.nonzero(inside)
        yi, xi, lon = yi[rows.min():rows.max() + 1], xi[cols.min():cols.max() + 1], lon[cols.min():cols.max() + 1]
        inside = inside[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    plans = _plan(model, query, xi.size * yi.size, limit)
    blocks = []
    for dims, group, common in plans:
        order = list(common) + [model.y, model.x]
        indexers = {dim: _as_indexer(idx) for dim, idx in common.items()}
        indexers[model.y] = _as_indexer(yi)
        indexers[model.x] = _as_indexer(xi)
        values = {}
        for name in group:
            array = _mask_invalid(_read(ds, name, indexers, order), model.variables[name])
            if inside is not None:
                array = np.where(inside, array, np.nan)
            values[name] = array
        axes = _block_axes(model, common)
        axes['y'] = model.y_values[yi]
        axes['x'] = lon
        blocks.append(Block('grid', axes, values, None, _custom_dims(model, common)))
    return blocks


def select(ds: xr.Dataset, model: GridModel, query: Query, limit: int) -> list[Block]:
    if query.kind == 'position':
        return select_points(ds, model, query, limit)
    return select_grid(ds, model, query, limit)
