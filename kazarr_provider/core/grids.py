"""Cells of a window: cube (bbox), area (polygon), radius (circles), corridor (buffered path).

Each query becomes a lon/lat window plus, except for cube, a mask of the cells
whose centres qualify; the answer is the window cropped to the mask, with
the cells outside it missing.
"""
from __future__ import annotations

import numpy as np
import shapely
import xarray as xr
from pyproj import CRS, Geod, Transformer

from ..errors import InvalidParameter, NoData
from .model import GridModel
from .query import AxisRequest, Query
from .select import Block, as_indexer, check_size, mask_invalid, plan_groups, read

GEOD = Geod(ellps='WGS84')
EARTH_RADIUS_M = 6371008.8


def _window(model: GridModel, west: float, south: float, east: float, north: float, limit: int):
    full_circle = east - west >= 360
    xi, lon = model.x_axis.between_wrapped(west, west + 360 if full_circle else east)
    yi = model.y_axis.between(south, north)
    if xi.size == 0 or yi.size == 0:
        raise NoData('the requested region holds no cell centre of the data')
    # the mask below is computed over the whole window: refuse before allocating it
    check_size(xi.size * yi.size, limit)
    return xi, lon, yi


def _crop(xi, lon, yi, inside, what: str):
    if not inside.any():
        raise NoData(f'the {what} holds no cell centre of the data')
    rows, cols = np.nonzero(inside)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    return xi[c0:c1], lon[c0:c1], yi[r0:r1], inside[r0:r1, c0:c1]


def _polygon_mask(polygon, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    # compare in the polygon's own longitude frame (it may be 0..360 or -180..180)
    shift = 360.0 * np.round((polygon.bounds[0] - lon[0]) / 360.0)
    lon_grid, lat_grid = np.meshgrid(lon + shift, lat)
    return shapely.contains_xy(polygon, lon_grid, lat_grid) | shapely.intersects_xy(
        polygon.boundary, lon_grid, lat_grid)


def _radius_bounds(lon: float, lat: float, metres: float) -> tuple[float, float, float, float]:
    dlat = np.degrees(metres / EARTH_RADIUS_M) * 1.01
    south, north = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    ratio = np.sin(metres / EARTH_RADIUS_M) / max(np.cos(np.radians(max(abs(south), abs(north)))), 1e-12)
    if south <= -90 or north >= 90 or ratio >= 1:
        return lon - 180.0, south, lon + 180.0, north           # a polar cap: every longitude
    dlon = np.degrees(np.arcsin(ratio)) * 1.01
    return lon - dlon, south, lon + dlon, north


def _radius_mask(lon0: float, lat0: float, metres: float, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lon_grid, lat_grid = np.meshgrid(lon, lat)
    _az, _baz, distance = GEOD.inv(np.full(lon_grid.shape, lon0), np.full(lat_grid.shape, lat0),
                                   lon_grid, lat_grid)
    return distance <= metres


def _corridor_projection(line) -> Transformer:
    """Azimuthal equidistant around the path's centre: distances to the path in metres."""
    centre = line.interpolate(0.5, normalized=True)
    aeqd = CRS.from_proj4(f'+proj=aeqd +lat_0={centre.y} +lon_0={centre.x} +datum=WGS84 +units=m')
    return Transformer.from_crs('OGC:CRS84', aeqd, always_xy=True)


def _corridor(model: GridModel, query: Query, limit: int):
    to_metres = _corridor_projection(query.line)
    path = shapely.transform(query.line, lambda xy: np.column_stack(to_metres.transform(xy[:, 0], xy[:, 1])))
    half = query.width_m / 2.0
    outline = path.buffer(half)
    ring = np.asarray(outline.exterior.segmentize(max(half / 4, 1.0)).coords)
    lon_r, lat_r = to_metres.transform(ring[:, 0], ring[:, 1], direction='INVERSE')
    west, east = _unwrapped_span(np.asarray(lon_r))
    xi, lon, yi = _window(model, west, float(np.min(lat_r)), east, float(np.max(lat_r)), limit)
    lon_grid, lat_grid = np.meshgrid(lon, model.y_values[yi])
    gx, gy = to_metres.transform(lon_grid, lat_grid)
    inside = shapely.dwithin(path, shapely.points(gx, gy), half)
    return _crop(xi, lon, yi, inside, 'corridor')


def _unwrapped_span(lon: np.ndarray) -> tuple[float, float]:
    """West/east of longitudes that may cross the antimeridian (the shorter way round)."""
    unwrapped = np.degrees(np.unwrap(np.radians(lon)))
    return float(unwrapped.min()), float(unwrapped.max())


def _corridor_levels(model: GridModel, query: Query):
    """corridor-height: the levels within half the height of the path's Z (or of the `z` asked)."""
    if query.height is None or model.z is None:
        return
    centres = query.vertex_z if query.vertex_z is not None else query.z.values
    if centres is None:
        raise InvalidParameter('corridor-height: give the path a Z (LINESTRING Z) or a z value to centre it on',
                               'corridor-height')
    half = abs(query.height) / 2.0
    query.z = AxisRequest(interval=(float(np.min(centres)) - half, float(np.max(centres)) + half),
                          text=f'corridor-height={query.height}')


def _windows(model: GridModel, query: Query, limit: int):
    """[(xi, lon, yi, inside or None)], one per region the query asks for."""
    if query.kind == 'cube':
        west, south, east, north = query.bbox
        xi, lon, yi = _window(model, west, south, east, north, limit)
        return [(xi, lon, yi, None)]
    if query.kind == 'area':
        west, south, east, north = query.polygon.bounds
        xi, lon, yi = _window(model, west, south, east, north, limit)
        return [_crop(xi, lon, yi, _polygon_mask(query.polygon, lon, model.y_values[yi]), 'polygon')]
    if query.kind == 'radius':
        out = []
        for lon0, lat0 in query.points:
            try:
                xi, lon, yi = _window(model, *_radius_bounds(lon0, lat0, query.within_m), limit)
                mask = _radius_mask(lon0, lat0, query.within_m, lon, model.y_values[yi])
                out.append(_crop(xi, lon, yi, mask, 'circle'))
            except NoData:
                continue
        if not out:
            raise NoData('no cell centre of the data lies within the radius')
        return out
    _corridor_levels(model, query)
    return [_corridor(model, query, limit)]


def select_grid(ds: xr.Dataset, model: GridModel, query: Query, limit: int) -> list[Block]:
    windows = _windows(model, query, limit)
    cells = sum(xi.size * yi.size for xi, _lon, yi, _inside in windows)
    plans = plan_groups(model, query, cells, limit)
    blocks = []
    for xi, lon, yi, inside in windows:
        for plan in plans:
            order = list(plan.axes) + [model.y, model.x]
            indexers = {**plan.indexers, model.y: as_indexer(yi), model.x: as_indexer(xi)}
            values = {}
            for name in plan.names:
                array = plan.blend(mask_invalid(read(ds, name, indexers, order), model.variables[name]))
                values[name] = array if inside is None else np.where(inside, array, np.nan)
            axes = plan.block_axes(model)
            axes['y'] = model.y_values[yi]
            axes['x'] = lon
            blocks.append(Block('grid', axes, values, None, plan.custom_dims(model)))
    return blocks
