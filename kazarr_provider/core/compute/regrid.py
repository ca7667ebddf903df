"""Sampling a grid onto an exact output grid: what a coverage request (and the regridding process) answers.

The output grid is decided first (CRS, edges, cell counts); each output cell takes the value of the source
cell holding its centre (nearest), or none when its centre lies outside the data. Only the source cells that
some output cell needs are read: when the output grid is aligned with the source (same CRS, no rotation), the
needed rows and columns are read as one orthogonal selection; otherwise the distinct needed cells are read
pointwise. Time, levels and other dimensions go through the same plan (and size limit) as every selection.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import xarray as xr
from pyproj import CRS, Transformer

from ...errors import NoData
from ..blocks import Block
from ..model import GridModel
from ..query import Query
from ..select.plan import mask_invalid, plan_groups, read_cells
from ..select.points import distinct_cells


@dataclass(frozen=True)
class OutputGrid:
    """A north-up grid of `width` x `height` cells whose outer edges are exactly the given bounds.

    In a geographic CRS, x is longitude (east may exceed 180 to cross the antimeridian) and y latitude.
    """

    crs: CRS
    west: float
    south: float
    east: float
    north: float
    width: int
    height: int

    @property
    def dx(self) -> float:
        return (self.east - self.west) / self.width

    @property
    def dy(self) -> float:
        return (self.north - self.south) / self.height

    @property
    def x(self) -> np.ndarray:
        """Cell-centre x, west to east."""
        return self.west + self.dx * (np.arange(self.width) + 0.5)

    @property
    def y(self) -> np.ndarray:
        """Cell-centre y, north to south."""
        return self.north - self.dy * (np.arange(self.height) + 0.5)

    @property
    def transform(self) -> tuple[float, float, float, float, float, float]:
        """The affine (a, b, c, d, e, f) of GDAL/rasterio: pixel (col, row) -> x, y."""
        return (self.dx, 0.0, self.west, 0.0, -self.dy, self.north)


@functools.lru_cache(maxsize=64)
def _transformer(source: CRS, target: CRS) -> Transformer:
    return Transformer.from_crs(source, target, always_xy=True)


def source_indices(model: GridModel, grid: OutputGrid) -> tuple[np.ndarray, np.ndarray, bool]:
    """(rows, cols, separable): the source cell under each output cell centre, -1 where none.

    Separable (the output axes map to source axes one to one): rows is (height,), cols is (width,).
    Otherwise both are (height, width).
    """
    if same_crs(model, grid.crs) and model.curvilinear is None and model.mesh is None:
        return model.y_axis.nearest(grid.y), model.x_axis.nearest(grid.x), True
    x, y = np.meshgrid(grid.x, grid.y)
    if model.curvilinear is not None:
        lon, lat = _transformer(grid.crs, CRS.from_user_input('OGC:CRS84')).transform(x, y)
        cols, rows = model.curvilinear.indices(lon, lat, False)
        rows = np.where(np.isfinite(rows), rows, -1).astype('int64')
        cols = np.where(np.isfinite(cols), cols, -1).astype('int64')
        return rows, cols, False
    sx, sy = _transformer(grid.crs, model.crs).transform(x, y)
    rows = model.y_axis.nearest(np.where(np.isfinite(sy), sy, np.inf).ravel()).reshape(sy.shape)
    cols = model.x_axis.nearest(np.where(np.isfinite(sx), sx, np.inf).ravel()).reshape(sx.shape)
    return rows, cols, False


def same_crs(model: GridModel, crs: CRS) -> bool:
    """Whether coordinates in `crs` are the grid's own (a lon/lat grid's are CRS84 and EPSG:4326 alike)."""
    return crs.equals(model.crs, ignore_axis_order=True) or (crs.is_geographic and model.regular_lonlat
                                                             and _is_wgs84(crs))


def _is_wgs84(crs: CRS) -> bool:
    return crs.equals(CRS.from_user_input('OGC:CRS84'), ignore_axis_order=True)


def sample(ds: xr.Dataset, model: GridModel, grid: OutputGrid, query: Query, limit: int) -> list[Block]:
    """One grid block per group of fields, on `grid` (x west to east, y north to south), nearest cells.

    `query` carries the time, level, custom-dimension and field choices (its horizontal parts are unused).
    NoData when no output cell centre falls on the data.
    """
    rows, cols, separable = source_indices(model, grid)
    covered = (rows >= 0)[:, None] & (cols >= 0)[None, :] if separable else (rows >= 0) & (cols >= 0)
    if not covered.any():
        raise NoData('the requested area holds no cell of the data')
    blocks = []
    for plan in plan_groups(model, query, grid.width * grid.height, limit):
        order = list(plan.axes) + [model.y, model.x]
        values = {}
        for name in plan.names:
            if separable:
                array = _read_aligned(ds, name, plan.indexers, order, model, rows, cols)
            else:
                array = _read_cells(ds, model, name, plan.indexers, order, rows, cols, covered)
            array = mask_invalid(plan.blend(array), model.variables[name])
            values[name] = np.where(covered, array, np.nan) if array.dtype.kind == 'f' else \
                np.where(covered, array.astype('float64'), np.nan)
        blocks.append(Block('grid', {**plan.block_axes(model), 'y': grid.y, 'x': grid.x}, values,
                            custom_dims=plan.custom_dims(model), native_xy=not grid.crs.is_geographic))
    return blocks


def _read_aligned(ds, name, indexers, order, model, rows, cols) -> np.ndarray:
    """The needed rows and columns as one orthogonal read, spread onto the output grid."""
    need_rows, row_at = np.unique(np.where(rows >= 0, rows, 0), return_inverse=True)
    need_cols, col_at = np.unique(np.where(cols >= 0, cols, 0), return_inverse=True)
    part = ds[name].isel({**indexers, model.y: need_rows, model.x: need_cols}).transpose(*order).values
    return part[..., row_at.ravel()[:, None], col_at.ravel()[None, :]]


def _read_cells(ds, model, name, indexers, order, rows, cols, covered) -> np.ndarray:
    """The distinct needed cells read pointwise, spread onto the output grid."""
    cell_y, cell_x, at = distinct_cells(np.where(covered, rows, 0).ravel(), np.where(covered, cols, 0).ravel())
    read = read_cells(ds, model, name, indexers, order[:-2], cell_y, cell_x)     # (..., cells)
    return read[..., at].reshape(read.shape[:-1] + rows.shape)
