"""Plan a selection before reading: indices per axis, the answer's size against the limit, then the read.

Pure functions over (xarray.Dataset, GridModel, Query): no pygeoapi, no HTTP.
Indices are computed on the in-memory coordinates first, the answer's size is
checked against the limit, and only then are the data read, through lazy
(non-dask) backend arrays, so Zarr fetches just the chunks that hold them.
`points.py` (position, trajectory), `grids.py` (area, cube, radius, corridor)
and `mesh.py` build on this, with the region geometry of `regions.py` and the
grid windows of `windows.py`; `dispatch.py` picks one of them. Each returns a
`Selected`: its blocks and what it decided.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ...errors import NoData, TooLarge
from ..blocks import Block
from ..coords import Axis
from ..model import GridModel
from ..query import AxisRequest, Query

# how a core message names the axis a field is about (custom dimensions: by their own name)
AXIS_WORDS = {'time': 'time', 'vertical': 'vertical request'}


@dataclass(frozen=True)
class Selected(Sequence):
    """What a selector returns: the blocks, and what it decided that the request did not say.

    A sequence of its blocks (iterating it gives them). `multi`: the answer is a multi-point domain
    (a MULTIPOINT was asked, or a mesh answers a region with its nodes/faces). `vertical`: the vertical
    request actually used when the selector derived one (corridor-height: the levels around the path).
    """

    blocks: tuple[Block, ...]
    multi: bool = False
    vertical: AxisRequest | None = None

    def __getitem__(self, index):
        return self.blocks[index]

    def __len__(self) -> int:
        return len(self.blocks)


@dataclass
class AxisPlan:
    """Storage indices to read on one axis, and how to combine them into the answer's values."""

    read: np.ndarray
    values: np.ndarray
    weights: np.ndarray | None = None            # (answer, read): None means the read values are the answer


def resolve(axis: Axis, request: AxisRequest, field: str) -> np.ndarray:
    """Storage indices for one axis request; NoData (about `field`: 'time', 'vertical' or a custom
    dimension's name) when it selects nothing."""
    if request.is_all:
        return np.arange(axis.size)
    if request.interval is not None:
        index = axis.between(*request.interval)
    else:
        index = axis.nearest(request.values)
        # storage order keeps the answer's axis monotonic, as CoverageJSON requires
        index = np.unique(index[index >= 0])
    if index.size == 0:
        what = AXIS_WORDS.get(field, f'{field} value')
        raise NoData(f'the {what} {request.text!r} lies outside the data [{axis.lo:g} .. {axis.hi:g}]'
                     if field != 'time' else f'the time {request.text!r} selects no time step of the data',
                     field=field)
    return index


def time_weights(axis: Axis, instants: np.ndarray, linear: bool) -> tuple[np.ndarray, np.ndarray]:
    """(storage indices to read, weights (instants, read)) giving each instant's value.

    Nearest: one step per instant. Linear: the two steps around it, weighted by
    distance in time, so the value is exact for fields linear in time. Instants
    outside [first, last] step get all-zero weights (the caller makes them missing).
    """
    n = axis.size
    inside = (instants >= axis.lo) & (instants <= axis.hi)
    if linear and n > 1:
        j = np.clip(np.searchsorted(axis.sorted, instants, side='right') - 1, 0, n - 2)
        t0, t1 = axis.sorted[j], axis.sorted[j + 1]
        w1 = np.clip((instants - t0) / (t1 - t0), 0.0, 1.0)
        pairs = np.stack([j, j + 1], axis=1)
        pair_weights = np.stack([1.0 - w1, w1], axis=1)
    else:
        nearest = np.clip(np.searchsorted(axis.edges, instants, side='right') - 1, 0, n - 1)
        pairs = nearest[:, None]
        pair_weights = np.ones((instants.size, 1))
    storage = axis.size - 1 - pairs if axis.descending else pairs
    read = np.unique(storage[inside])
    weights = np.zeros((instants.size, read.size))
    for k in np.flatnonzero(inside):
        for col, w in zip(np.searchsorted(read, storage[k]), pair_weights[k]):
            weights[k, col] += w
    return read, weights


def time_plan(model: GridModel, query: Query) -> AxisPlan:
    request = query.time
    linear = query.interpolation.time == 'linear'
    if linear and request.values is not None:
        read, weights = time_weights(model.t_axis, request.values, linear=True)
        answered = weights.sum(axis=1) > 0
        if not answered.any():
            raise NoData(f'the time {request.text!r} lies outside the time steps of the data', field='time')
        instants = request.values[answered]
        order = np.argsort(instants)
        return AxisPlan(read, instants[order], weights[answered][order])
    read = resolve(model.t_axis, request, 'time')
    return AxisPlan(read, model.t_seconds[read])


def custom_index(model: GridModel, dim: str, request: AxisRequest | None) -> np.ndarray:
    axis = model.custom[dim]
    if request is None or request.is_all:
        return np.arange(axis.values.size)
    if request.labels is not None:
        lookup = {v: i for i, v in enumerate(axis.values)}
        return np.array([lookup[v] for v in request.labels], dtype='int64')
    return resolve(axis.numeric, request, dim)


def as_indexer(index: np.ndarray):
    """A slice when contiguous: lets the backend use a basic (cheapest) read."""
    if index.size and np.all(np.diff(index) == 1):
        return slice(int(index[0]), int(index[-1]) + 1)
    return index


def mask_invalid(array: np.ndarray, var) -> np.ndarray:
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


@dataclass
class Plan:
    """One group of parameters with the same dimensions: what to read on each non-horizontal axis."""

    dims: tuple[str, ...]
    names: list[str]
    axes: dict[str, AxisPlan]                   # custom..., t, z (those the variables have), in read order

    @property
    def indexers(self) -> dict:
        return {dim: as_indexer(plan.read) for dim, plan in self.axes.items()}

    def answer_size(self) -> int:
        return int(np.prod([(p.weights.shape[0] if p.weights is not None else p.read.size)
                            for p in self.axes.values()]))

    def block_axes(self, model: GridModel) -> dict[str, np.ndarray]:
        """Answer axis values keyed 't'/'z' or by custom dimension name."""
        return {(dim if model.role(dim) == 'custom' else model.role(dim)): plan.values
                for dim, plan in self.axes.items()}

    def custom_dims(self, model: GridModel) -> list[str]:
        return [dim for dim in self.axes if model.role(dim) == 'custom']

    def blend(self, array: np.ndarray) -> np.ndarray:
        """Apply the axes' weights (time interpolation) to an array read in `axes` order."""
        for position, plan in enumerate(self.axes.values()):
            if plan.weights is not None:
                array = np.moveaxis(np.tensordot(plan.weights, array, axes=([1], [position])), 0, position)
        return array


def plan_groups(model: GridModel, query: Query, horizontal_cells: int, limit: int,
                skip: tuple[str, ...] = ()) -> list[Plan]:
    """One Plan per group of parameters; refuses (413) answers over `limit` values.

    `skip` names roles ('t', 'z') that the caller resolves per point (trajectory M/Z).
    """
    plans = []
    total = 0
    for dims, names in _groups(model, query.parameters or list(model.variables)).items():
        axes: dict[str, AxisPlan] = {}
        for dim in dims:
            if model.role(dim) == 'custom':
                index = custom_index(model, dim, query.custom.get(dim))
                axes[dim] = AxisPlan(index, model.custom[dim].values[index])
        if model.t in dims and 't' not in skip:
            axes[model.t] = time_plan(model, query)
        if model.z in dims and 'z' not in skip:
            index = resolve(model.z_axis, query.z, 'vertical')
            axes[model.z] = AxisPlan(index, model.z_values[index])
        plan = Plan(dims, names, axes)
        total += horizontal_cells * plan.answer_size() * len(names)
        plans.append(plan)
    check_size(total, limit)
    return plans


def check_size(count: int, limit: int):
    if count > limit:
        raise TooLarge(f'the answer would hold {count:,} values, over this server\'s limit of {limit:,}; '
                       f'narrow the region, the time range, the levels or the parameters asked for', None)


def read(ds: xr.Dataset, name: str, indexers: dict, order: list[str]) -> np.ndarray:
    return ds[name].isel(indexers).transpose(*order).values


def read_cells(ds: xr.Dataset, model: GridModel, name: str, indexers: dict, order: list[str],
               yi: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """Pointwise (vectorised) read of cells (yi, xi): zarr fetches each chunk holding one once, concurrently.

    Returns (*order, n) with n = len(yi).
    """
    if yi.size == 1:
        # one cell: basic indexing skips xarray's vectorised machinery (~2 ms of a ~10 ms S3 point read)
        cell = ds[name].isel({**indexers, model.y: int(yi[0]), model.x: int(xi[0])})
        return cell.transpose(*order).values[..., None]
    pointwise = {model.y: xr.DataArray(yi, dims='point'), model.x: xr.DataArray(xi, dims='point')}
    return ds[name].isel({**indexers, **pointwise}).transpose(*order, 'point').values
