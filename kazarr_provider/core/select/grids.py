"""Cells of a window: cube (bbox), area (polygon), radius (circles), corridor (buffered path).

Each query becomes a window of the grid plus, where needed, a mask of the cells
whose centres qualify, decided on the cells' longitude/latitude; the answer is
the window cropped to the mask, with the cells outside it missing. On a lon/lat
grid the window comes straight from the axes; on a projected grid the region,
densified, is transformed to the grid's CRS first (so a box around a pole is a
disc, not a strip). The region geometry lives in `regions.py`, the windows in
`windows.py`. Many radius centres are cut, masked and read in bulk: one geodesic
call for every centre's cells, one read of every cell any circle holds.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from ...errors import InvalidParameter, NoData
from ..blocks import Block
from ..model import GridModel
from ..query import AxisRequest, Query
from .plan import Plan, Selected, as_indexer, mask_invalid, plan_groups, read, read_cells
from .regions import (bbox_mask, box, circles, corridor_bounds, corridor_distance, corridor_outline,
                      densified_path, path_spacing, polygon_mask, radius_bounds, within_distance)
from .windows import (Window, batches, cells_lonlat, crop_many, flat_cells, lonlat_window, lonlat_windows,
                      native_window, native_windows)


def _corridor(model: GridModel, query: Query, limit: int) -> Window:
    """The cells whose centres lie within half the width of the path, by geodesic distance on WGS84."""
    half = query.width_m / 2.0
    vertices = densified_path(query.line, half)
    if model.regular_lonlat:
        reach = half * 1.01 + path_spacing(vertices)
        window = lonlat_window(model, *corridor_bounds(vertices, reach), limit)
    else:
        window = native_window(model, corridor_outline(vertices, half)[0], limit)
    distance = corridor_distance(window.lon, window.lat, vertices, half).reshape(window.lon.shape)
    return window.crop(distance <= half, 'corridor')


def _region_window(model: GridModel, region, limit: int) -> Window:
    if not model.regular_lonlat:
        return native_window(model, region, limit)
    west, south, east, north = region.bounds
    return lonlat_window(model, west, south, east, north, limit)


def corridor_levels(model: GridModel, query: Query) -> AxisRequest | None:
    """The vertical request a corridor's height makes: the levels within half the height of the path's Z
    (or of the vertical levels asked); None when no height is asked (or the data has no vertical axis)."""
    if query.height is None or model.z is None:
        return None
    centres = query.vertex_z if query.vertex_z is not None else query.z.values
    if centres is None:
        raise InvalidParameter('a corridor height needs a centre: give the path a Z per vertex (LINESTRING Z) '
                               'or one vertical level', field='height')
    half = abs(query.height) / 2.0
    return AxisRequest(interval=(float(np.min(centres)) - half, float(np.max(centres)) + half),
                       text=f'corridor-height={query.height}')


def _radius_windows(model: GridModel, query: Query, limit: int) -> list[Window]:
    """One window per centre whose circle holds a cell centre, cropped to the circle; centres in order."""
    lon0 = np.asarray(query.points[:, 0], dtype='float64')
    lat0 = np.asarray(query.points[:, 1], dtype='float64')
    metres = query.within_m
    if model.regular_lonlat:
        cut = lonlat_windows(model, *radius_bounds(lon0, lat0, metres), limit)
    else:
        cut = native_windows(model, circles(lon0, lat0, metres), limit)
    kept = [k for k, window in enumerate(cut) if not isinstance(window, str)]
    sizes = np.array([cut[k].x.size * cut[k].y.size for k in kept], dtype=np.int64)
    out = []
    for part in batches(sizes):
        centres, windows = kept[part], [cut[k] for k in kept[part]]
        lon, lat = cells_lonlat(windows)
        owner = np.repeat(np.asarray(centres, dtype=np.int64), sizes[part])
        inside = within_distance(lon0[owner], lat0[owner], lon, lat, metres)
        for k, cropped in zip(centres, crop_many(windows, lon, lat, inside)):
            if cropped is not None:
                cropped.centre = (float(lon0[k]), float(lat0[k]))
                out.append(cropped)
    if not out:
        raise NoData('no cell centre of the data lies within the radius')
    return out


def _windows(model: GridModel, query: Query, limit: int) -> list[Window]:
    """One window per region the query asks for."""
    if query.kind == 'cube':
        west, south, east, north = query.bbox
        if model.regular_lonlat:
            return [lonlat_window(model, west, south, east, north, limit)]
        window = native_window(model, box(west, south, east, north), limit)
        return [window.crop(bbox_mask(window.lon, window.lat, west, south, east, north), 'bbox')]
    if query.kind == 'area':
        window = _region_window(model, query.polygon, limit)
        return [window.crop(polygon_mask(query.polygon, window.lon, window.lat), 'polygon')]
    if query.kind == 'radius':
        return _radius_windows(model, query, limit)
    return [_corridor(model, query, limit)]


def _read_one(ds: xr.Dataset, model: GridModel, plan: Plan, window: Window, name: str) -> np.ndarray:
    order = list(plan.axes) + [model.y, model.x]
    indexers = {**plan.indexers, model.y: as_indexer(window.yi), model.x: as_indexer(window.xi)}
    array = plan.blend(mask_invalid(read(ds, name, indexers, order), model.variables[name]))
    return array if window.inside is None else np.where(window.inside, array, np.nan)


def _read_many(ds: xr.Dataset, model: GridModel, plan: Plan, windows: list[Window], name: str) -> list[np.ndarray]:
    """Each window's values (cells outside its mask missing), from one pointwise read of every cell any
    window holds: each chunk is fetched once however many circles overlap it."""
    cols, rows = flat_cells(windows, 'xi', 'yi')
    inside = np.concatenate([w.inside.ravel() for w in windows])
    keys = rows.astype(np.int64) * ds.sizes[model.x] + cols
    unique, inverse = np.unique(keys[inside], return_inverse=True)
    array = read_cells(ds, model, name, plan.indexers, list(plan.axes),
                       unique // ds.sizes[model.x], unique % ds.sizes[model.x])
    array = plan.blend(mask_invalid(array, model.variables[name]))
    # one more column, missing, for the cells outside the masks
    missing = np.full(array.shape[:-1] + (1,), np.nan, dtype=np.result_type(array.dtype, np.nan))
    lookup = np.full(keys.size, unique.size, dtype=np.int64)
    lookup[inside] = inverse.ravel()
    gathered = np.concatenate([array, missing], axis=-1)[..., lookup]
    out, head = [], 0
    for window in windows:
        n = window.xi.size * window.yi.size
        out.append(np.ascontiguousarray(
            gathered[..., head:head + n].reshape(gathered.shape[:-1] + (window.yi.size, window.xi.size))))
        head += n
    return out


def select_grid(ds: xr.Dataset, model: GridModel, query: Query, limit: int) -> Selected:
    levels = corridor_levels(model, query) if query.kind == 'corridor' else None
    if levels is not None:
        query = dataclasses.replace(query, z=levels)
    windows = _windows(model, query, limit)
    cells = sum(w.xi.size * w.yi.size for w in windows)
    plans = plan_groups(model, query, cells, limit)
    values: dict[tuple[int, str], list[np.ndarray]] = {}
    for p, plan in enumerate(plans):
        for name in plan.names:
            values[p, name] = ([_read_one(ds, model, plan, windows[0], name)] if len(windows) == 1 else
                               _read_many(ds, model, plan, windows, name))
    blocks = []
    shared = [(plan.block_axes(model), plan.custom_dims(model)) for plan in plans]
    regular, native_xy = model.regular_lonlat, model.projected and query.native_crs
    for w, window in enumerate(windows):
        for p, plan in enumerate(plans):
            axes, custom = shared[p]
            block = Block('grid', {**axes, 'y': window.y, 'x': window.x},
                          {name: values[p, name][w] for name in plan.names}, None, list(custom))
            block.centre = window.centre
            if not regular:
                block.cell_lonlat = (window.lon, window.lat)
                block.native_xy = native_xy
            blocks.append(block)
    return Selected(tuple(blocks), multi=query.multi, vertical=levels)
