"""Cells of a window: cube (bbox), area (polygon), radius (circles), corridor (buffered path).

Each query becomes a window of the grid plus, where needed, a mask of the cells
whose centres qualify, decided on the cells' longitude/latitude; the answer is
the window cropped to the mask, with the cells outside it missing. On a lon/lat
grid the window comes straight from the axes; on a projected grid the region,
densified, is transformed to the grid's CRS first (so a box around a pole is a
disc, not a strip).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
import xarray as xr
from pyproj import Geod

from ...errors import InvalidParameter, NoData
from ..model import GridModel
from ..query import AxisRequest, Query
from ..blocks import Block
from .plan import as_indexer, check_size, mask_invalid, plan_groups, read

GEOD = Geod(ellps='WGS84')
EARTH_RADIUS_M = 6371008.8
DENSIFY_DEGREES = 0.25


@dataclass
class Window:
    xi: np.ndarray                  # storage indices along x / y
    yi: np.ndarray
    x: np.ndarray                   # the answer's axis values (lon unwrapped on lon/lat grids; metres if projected)
    y: np.ndarray
    lon: np.ndarray                 # (ny, nx) cell-centre longitude/latitude, for masks and lon/lat outputs
    lat: np.ndarray
    inside: np.ndarray | None = None
    centre: tuple[float, float] | None = None     # the radius centre (lon, lat) this window was cut around

    def crop(self, inside: np.ndarray, what: str) -> 'Window':
        if not inside.any():
            raise NoData(f'the {what} holds no cell centre of the data')
        rows, cols = np.nonzero(inside)
        r, c = slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)
        return Window(self.xi[c], self.yi[r], self.x[c], self.y[r], self.lon[r, c], self.lat[r, c], inside[r, c])


def _lonlat_window(model: GridModel, west: float, south: float, east: float, north: float, limit: int) -> Window:
    full_circle = east - west >= 360
    xi, lon = model.x_axis.between_wrapped(west, west + 360 if full_circle else east)
    yi = model.y_axis.between(south, north)
    if xi.size == 0 or yi.size == 0:
        raise NoData('the requested region holds no cell centre of the data')
    # masks are computed over the whole window: refuse before allocating them
    check_size(xi.size * yi.size, limit)
    lat = model.y_values[yi]
    lon_grid, lat_grid = np.meshgrid(lon, lat)
    return Window(xi, yi, lon, lat, lon_grid, lat_grid)


def _native_window(model: GridModel, region, limit: int) -> Window:
    """The grid cells under a lon/lat region, for a projected grid."""
    ring = shapely.get_coordinates(shapely.segmentize(region.boundary, DENSIFY_DEGREES))
    x, y = model.native(ring[:, 0], ring[:, 1], clip=True)
    finite = np.isfinite(x) & np.isfinite(y)
    # a region wider than the grid (a 15 000 km circle around a UTM tile) has its outline far outside the
    # projection: the grid's own outline points inside the region say what of the grid it covers
    out_x, out_y, out_lon, out_lat = model.outline
    west = region.bounds[0]
    covered = shapely.contains_xy(region, west + np.mod(out_lon - west, 360.0), out_lat)
    xs = np.concatenate([x[finite], out_x[covered]])
    ys = np.concatenate([y[finite], out_y[covered]])
    if xs.size == 0:
        raise NoData('the requested region lies outside the projection of the data')
    xi = model.x_axis.between(float(xs.min()), float(xs.max()))
    yi = model.y_axis.between(float(ys.min()), float(ys.max()))
    if xi.size == 0 or yi.size == 0:
        raise NoData('the requested region holds no cell centre of the data')
    check_size(xi.size * yi.size, limit)
    x_out, y_out = model.x_values[xi], model.y_values[yi]
    lon, lat = model.lonlat(*np.meshgrid(x_out, y_out))
    return Window(xi, yi, x_out, y_out, lon, lat)


def _box(west, south, east, north):
    east = east + 360.0 if east < west else east
    return shapely.box(west, south, min(east, west + 360.0), north)


def _bbox_mask(window: Window, west, south, east, north) -> np.ndarray:
    span = (east - west) % 360.0 if east - west < 360 else 360.0
    in_lon = np.mod(window.lon - west, 360.0) <= span + 1e-9
    return in_lon & (window.lat >= south) & (window.lat <= north)


def _polygon_mask(polygon, window: Window) -> np.ndarray:
    # compare in the polygon's own longitude frame (it may be 0..360 or -180..180)
    west = polygon.bounds[0]
    lon = west + np.mod(window.lon - west, 360.0)
    return shapely.contains_xy(polygon, lon, window.lat) | shapely.intersects_xy(polygon.boundary, lon, window.lat)


def _circle(lon: float, lat: float, metres: float):
    """The geodesic circle as a lon/lat polygon; a cap (every longitude) when it holds a pole."""
    azimuths = np.linspace(0.0, 360.0, 73)
    ring_lon, ring_lat, _ = GEOD.fwd(np.full(73, lon), np.full(73, lat), azimuths, np.full(73, metres))
    to_pole = np.radians(90.0 - abs(lat)) * EARTH_RADIUS_M
    if to_pole <= metres:
        if lat > 0:
            return shapely.box(lon - 180.0, float(ring_lat.min()), lon + 180.0, 90.0)
        return shapely.box(lon - 180.0, -90.0, lon + 180.0, float(ring_lat.max()))
    return shapely.Polygon(np.column_stack([np.degrees(np.unwrap(np.radians(ring_lon))), ring_lat]))


def _radius_bounds(lon: float, lat: float, metres: float) -> tuple[float, float, float, float]:
    dlat = np.degrees(metres / EARTH_RADIUS_M) * 1.01
    south, north = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    ratio = np.sin(metres / EARTH_RADIUS_M) / max(np.cos(np.radians(max(abs(south), abs(north)))), 1e-12)
    if south <= -90 or north >= 90 or ratio >= 1:
        return lon - 180.0, south, lon + 180.0, north           # a polar cap: every longitude
    dlon = np.degrees(np.arcsin(ratio)) * 1.01
    return lon - dlon, south, lon + dlon, north


def _radius_mask(lon0: float, lat0: float, metres: float, window: Window) -> np.ndarray:
    _az, _baz, distance = GEOD.inv(np.full(window.lon.shape, lon0), np.full(window.lat.shape, lat0),
                                   window.lon, window.lat)
    return distance <= metres


CORRIDOR_SPACING = 20          # densified path: vertices at most width / 20 apart along the geodesics ...
CORRIDOR_POINTS = 5_000        # ... or path length / 5000 for narrow corridors on long paths (the exact
                               # refinement next to the boundary keeps those right; 200k points took 20 s)
MAX_CORRIDOR_VERTICES = 200_000


def densified_path(line, half: float) -> tuple[np.ndarray, np.ndarray]:
    """The path densified along its WGS84 geodesics: (lon, lat) vertices, the original ones included.

    Consecutive vertices lie on one geodesic of the path, at most `path_spacing` apart.
    """
    coords = np.asarray(line.coords)[:, :2].astype('float64')
    _az, _baz, lengths = GEOD.inv(coords[:-1, 0], coords[:-1, 1], coords[1:, 0], coords[1:, 1])
    lengths = np.atleast_1d(lengths)
    spacing = max(2.0 * half / CORRIDOR_SPACING, float(lengths.sum()) / CORRIDOR_POINTS, 1.0)
    pieces = np.ceil(lengths / spacing).astype(np.int64)
    total = int(pieces.sum()) + 1
    if total > MAX_CORRIDOR_VERTICES:
        raise InvalidParameter(
            f'the corridor path ({lengths.sum() / 1000:,.0f} km) is too long for a width of {2 * half:,.0f} m: '
            f'it would need {total:,} path points, over {MAX_CORRIDOR_VERTICES:,}; widen the corridor or '
            f'shorten the path', 'corridor-width')
    lon, lat = [coords[:1, 0]], [coords[:1, 1]]
    for (x0, y0), (x1, y1), n in zip(coords[:-1], coords[1:], pieces):
        if n > 1:
            inner = np.asarray(GEOD.npts(x0, y0, x1, y1, int(n) - 1)).reshape(-1, 2)
            lon.append(inner[:, 0])
            lat.append(inner[:, 1])
        lon.append([x1])
        lat.append([y1])
    lon, lat = np.concatenate(lon), np.concatenate(lat)
    return np.degrees(np.unwrap(np.radians(lon))), lat


def path_spacing(vertices: tuple[np.ndarray, np.ndarray]) -> float:
    """The largest distance (m) between consecutive vertices of a densified path."""
    vlon, vlat = vertices
    if vlon.size < 2:
        return 0.0
    return float(np.max(GEOD.inv(vlon[:-1], vlat[:-1], vlon[1:], vlat[1:])[2]))


def _unit_vectors(lon, lat) -> np.ndarray:
    lon, lat = np.radians(np.asarray(lon, dtype='float64')), np.radians(np.asarray(lat, dtype='float64'))
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def corridor_distance(lon, lat, vertices: tuple[np.ndarray, np.ndarray], half: float) -> np.ndarray:
    """Geodesic distance (m) from each point to the densified path, exact to well under 0.01 % near `half`.

    The nearest vertices come from a KD-tree on unit vectors; the distance to the nearest is exact
    (Geod.inv) and never less than the distance to the path. Points just beyond `half` (where the path
    between vertices may come closer) are refined on the geodesic pieces next to their nearest vertices.
    """
    from scipy.spatial import cKDTree
    vlon, vlat = vertices
    lon, lat = np.asarray(lon, dtype='float64').ravel(), np.asarray(lat, dtype='float64').ravel()
    k = min(4, vlon.size)
    _chord, nearest = cKDTree(_unit_vectors(vlon, vlat)).query(_unit_vectors(lon, lat), k=k)
    nearest = nearest.reshape(lon.size, k)
    distance = GEOD.inv(vlon[nearest[:, 0]], vlat[nearest[:, 0]], lon, lat)[2]
    if vlon.size < 2:
        return distance
    _az, _baz, step = GEOD.inv(vlon[:-1], vlat[:-1], vlon[1:], vlat[1:])
    spacing = float(np.max(step))
    # between two vertices `spacing` apart the path is at most this much closer than the nearer vertex
    band = np.flatnonzero((distance > half) & (distance <= np.hypot(half, spacing / 2.0) * 1.001 + 1.0))
    if band.size:
        samples = np.linspace(0.0, 1.0, 65)
        best = distance[band]
        for column in range(k):
            for offset in (-1, 0):               # the pieces before and after the vertex
                start = nearest[band, column] + offset
                ok = (start >= 0) & (start < vlon.size - 1)
                if not ok.any():
                    continue
                rows, start = band[ok], start[ok]
                az = GEOD.inv(vlon[start], vlat[start], vlon[start + 1], vlat[start + 1])[0]
                m = samples.size
                plon, plat, _ = GEOD.fwd(np.repeat(vlon[start], m), np.repeat(vlat[start], m), np.repeat(az, m),
                                         np.outer(step[start], samples).ravel())
                d = GEOD.inv(plon, plat, np.repeat(lon[rows], m), np.repeat(lat[rows], m))[2]
                best[ok] = np.minimum(best[ok], d.reshape(-1, m).min(axis=1))
        distance[band] = best
    return distance


def _corridor_outline(vertices: tuple[np.ndarray, np.ndarray], half: float):
    """A lon/lat region holding the corridor: the union of geodesic discs of half + spacing around the
    path's vertices (a few hundred at most; a disc holding a pole is a polar cap)."""
    vlon, vlat = vertices
    stride = max(1, int(np.ceil(vlon.size / 400)))
    reach = half * 1.01 + stride * path_spacing(vertices)
    vlon, vlat = np.append(vlon[::stride], vlon[-1]), np.append(vlat[::stride], vlat[-1])
    return shapely.union_all([_circle(float(x), float(y), reach) for x, y in zip(vlon, vlat)]), reach


def _corridor_bounds(vertices: tuple[np.ndarray, np.ndarray], reach: float) -> tuple[float, float, float, float]:
    """The lon/lat box of discs of `reach` around every vertex (every longitude when one holds a pole)."""
    vlon, vlat = vertices
    dlat = np.degrees(reach / EARTH_RADIUS_M) * 1.01
    south, north = float(max(-90.0, np.min(vlat - dlat))), float(min(90.0, np.max(vlat + dlat)))
    ratio = np.sin(min(reach / EARTH_RADIUS_M, np.pi / 2)) / np.maximum(
        np.cos(np.radians(np.minimum(np.abs(vlat) + dlat, 90.0))), 1e-12)
    if south <= -90 or north >= 90 or np.any(ratio >= 1):
        west = float(vlon[0]) - 180.0
        return west, south, west + 360.0, north
    dlon = np.degrees(np.arcsin(ratio)) * 1.01
    return float(np.min(vlon - dlon)), south, float(np.max(vlon + dlon)), north


def _corridor(model: GridModel, query: Query, limit: int) -> Window:
    """The cells whose centres lie within half the width of the path, by geodesic distance on WGS84."""
    half = query.width_m / 2.0
    vertices = densified_path(query.line, half)
    if model.regular_lonlat:
        reach = half * 1.01 + path_spacing(vertices)
        window = _lonlat_window(model, *_corridor_bounds(vertices, reach), limit)
    else:
        window = _native_window(model, _corridor_outline(vertices, half)[0], limit)
    distance = corridor_distance(window.lon, window.lat, vertices, half).reshape(window.lon.shape)
    return window.crop(distance <= half, 'corridor')


def _region_window(model: GridModel, region, limit: int) -> Window:
    if not model.regular_lonlat:
        return _native_window(model, region, limit)
    west, south, east, north = region.bounds
    return _lonlat_window(model, west, south, east, north, limit)


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


def _windows(model: GridModel, query: Query, limit: int) -> list[Window]:
    """One window per region the query asks for."""
    if query.kind == 'cube':
        west, south, east, north = query.bbox
        if model.regular_lonlat:
            return [_lonlat_window(model, west, south, east, north, limit)]
        window = _native_window(model, _box(west, south, east, north), limit)
        return [window.crop(_bbox_mask(window, west, south, east, north), 'bbox')]
    if query.kind == 'area':
        window = _region_window(model, query.polygon, limit)
        return [window.crop(_polygon_mask(query.polygon, window), 'polygon')]
    if query.kind == 'radius':
        out = []
        for lon0, lat0 in query.points:
            try:
                if not model.regular_lonlat:
                    window = _native_window(model, _circle(lon0, lat0, query.within_m), limit)
                else:
                    window = _lonlat_window(model, *_radius_bounds(lon0, lat0, query.within_m), limit)
                cropped = window.crop(_radius_mask(lon0, lat0, query.within_m, window), 'circle')
                cropped.centre = (float(lon0), float(lat0))
                out.append(cropped)
            except NoData:
                continue
        if not out:
            raise NoData('no cell centre of the data lies within the radius')
        return out
    _corridor_levels(model, query)
    return [_corridor(model, query, limit)]


def select_grid(ds: xr.Dataset, model: GridModel, query: Query, limit: int) -> list[Block]:
    windows = _windows(model, query, limit)
    cells = sum(w.xi.size * w.yi.size for w in windows)
    plans = plan_groups(model, query, cells, limit)
    blocks = []
    for window in windows:
        for plan in plans:
            order = list(plan.axes) + [model.y, model.x]
            indexers = {**plan.indexers, model.y: as_indexer(window.yi), model.x: as_indexer(window.xi)}
            values = {}
            for name in plan.names:
                array = plan.blend(mask_invalid(read(ds, name, indexers, order), model.variables[name]))
                values[name] = array if window.inside is None else np.where(window.inside, array, np.nan)
            axes = plan.block_axes(model)
            axes['y'] = window.y
            axes['x'] = window.x
            block = Block('grid', axes, values, None, plan.custom_dims(model))
            block.centre = window.centre
            if not model.regular_lonlat:
                block.cell_lonlat = (window.lon, window.lat)
                block.native_xy = model.projected and query.native_crs
            blocks.append(block)
    return blocks
