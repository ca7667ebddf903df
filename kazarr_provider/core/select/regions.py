"""Region geometry on WGS84, independent of any grid: which lon/lat points a region holds, and its outline.

Boxes, polygons, geodesic circles (radius) and corridors (geodesic distance to
a path). Everything here works on arrays of longitudes/latitudes -- grid cell
centres, mesh nodes -- and on many regions at once where a query has many
(radius centres): one `Geod` call for all centres rather than one per centre.
Longitudes may be in any convention; a mask compares in the region's own frame.
"""
from __future__ import annotations

import numpy as np
import shapely
from pyproj import Geod

from ...errors import InvalidParameter

GEOD = Geod(ellps='WGS84')
EARTH_RADIUS_M = 6371008.8
DENSIFY_DEGREES = 0.25           # a region's outline is densified this finely before it is projected
CIRCLE_VERTICES = 73             # a geodesic circle's outline: every 5 degrees of azimuth, closed
# the smallest radius of curvature of WGS84 (meridional, at the equator), less a margin: a geodesic of
# length s spans at most s / MIN_CURVATURE_M radians between the points' unit vectors
MIN_CURVATURE_M = 6_300_000.0


def box(west, south, east, north):
    """The lon/lat box as a polygon, east unwrapped past west (at most 360 degrees wide)."""
    east = east + 360.0 if east < west else east
    return shapely.box(west, south, min(east, west + 360.0), north)


def bbox_mask(lon: np.ndarray, lat: np.ndarray, west, south, east, north) -> np.ndarray:
    """Points inside the box (edges included), across the antimeridian when east < west."""
    span = (east - west) % 360.0 if east - west < 360 else 360.0
    in_lon = np.mod(lon - west, 360.0) <= span + 1e-9
    return in_lon & (lat >= south) & (lat <= north)


def polygon_mask(polygon, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Points inside the (multi)polygon or on its boundary.

    One prepared point-in-area test per point (a polygon of n vertices costs O(log n) per point,
    not O(n)); compared in the polygon's own longitude frame (it may be 0..360 or -180..180).
    The polygon asked is not touched: a copy is prepared.
    """
    west = polygon.bounds[0]
    prepared = shapely.from_wkb(shapely.to_wkb(polygon))
    shapely.prepare(prepared)
    return shapely.intersects_xy(prepared, west + np.mod(np.asarray(lon) - west, 360.0), lat)


def circles(lon, lat, metres: float) -> np.ndarray:
    """Geodesic circles as lon/lat polygons, one per centre; a cap (every longitude) where one holds a pole."""
    lon = np.atleast_1d(np.asarray(lon, dtype='float64'))
    lat = np.atleast_1d(np.asarray(lat, dtype='float64'))
    n, m = lon.size, CIRCLE_VERTICES
    azimuths = np.linspace(0.0, 360.0, m)
    ring_lon, ring_lat, _ = GEOD.fwd(np.repeat(lon, m), np.repeat(lat, m), np.tile(azimuths, n),
                                     np.full(n * m, float(metres)))
    ring_lon, ring_lat = ring_lon.reshape(n, m), ring_lat.reshape(n, m)
    unwrapped = np.degrees(np.unwrap(np.radians(ring_lon), axis=1))
    out = shapely.polygons(np.stack([unwrapped, ring_lat], axis=-1))
    to_pole = np.radians(90.0 - np.abs(lat)) * EARTH_RADIUS_M
    north_cap = (to_pole <= metres) & (lat > 0)
    south_cap = (to_pole <= metres) & ~(lat > 0)
    if north_cap.any():
        out[north_cap] = shapely.box(lon[north_cap] - 180.0, ring_lat[north_cap].min(axis=1),
                                     lon[north_cap] + 180.0, 90.0)
    if south_cap.any():
        out[south_cap] = shapely.box(lon[south_cap] - 180.0, -90.0, lon[south_cap] + 180.0,
                                     ring_lat[south_cap].max(axis=1))
    return out


def circle(lon: float, lat: float, metres: float):
    """One geodesic circle as a lon/lat polygon (see `circles`)."""
    return circles(lon, lat, metres)[0]


def radius_bounds(lon, lat, metres: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(west, south, east, north) of lon/lat boxes holding the circle round each centre (every longitude
    when one holds a pole), a percent wider than the circle."""
    lon, lat = np.asarray(lon, dtype='float64'), np.asarray(lat, dtype='float64')
    dlat = np.degrees(metres / EARTH_RADIUS_M) * 1.01
    south, north = np.maximum(-90.0, lat - dlat), np.minimum(90.0, lat + dlat)
    ratio = np.sin(metres / EARTH_RADIUS_M) / np.maximum(np.cos(np.radians(np.maximum(np.abs(south),
                                                                                       np.abs(north)))), 1e-12)
    cap = (south <= -90) | (north >= 90) | (ratio >= 1)
    with np.errstate(invalid='ignore'):
        dlon = np.degrees(np.arcsin(np.where(cap, 0.0, ratio))) * 1.01
    return (np.where(cap, lon - 180.0, lon - dlon), south, np.where(cap, lon + 180.0, lon + dlon), north)


def within_distance(centre_lon, centre_lat, lon, lat, metres: float) -> np.ndarray:
    """Pairwise: is point i within `metres` (geodesic, WGS84) of centre i? Arrays of one shape."""
    lon = np.asarray(lon, dtype='float64')
    shape = lon.shape
    centre_lon = np.broadcast_to(np.asarray(centre_lon, dtype='float64'), shape).ravel()
    centre_lat = np.broadcast_to(np.asarray(centre_lat, dtype='float64'), shape).ravel()
    if lon.size == 0:
        return np.zeros(shape, bool)
    _az, _baz, distance = GEOD.inv(centre_lon, centre_lat, lon.ravel(),
                                   np.asarray(lat, dtype='float64').ravel())
    return (np.asarray(distance) <= metres).reshape(shape)


def radius_mask(lon0: float, lat0: float, metres: float, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Points within `metres` of one centre."""
    return within_distance(lon0, lat0, lon, lat, metres)


def unit_vectors(lon, lat) -> np.ndarray:
    lon, lat = np.radians(np.asarray(lon, dtype='float64')), np.radians(np.asarray(lat, dtype='float64'))
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def near_any(centre_lon, centre_lat, metres: float, lon, lat) -> np.ndarray:
    """Points within `metres` of at least one centre: candidates from a KD-tree on unit vectors (a
    superset), decided exactly by the geodesic distance, as `radius_mask` per centre would."""
    from scipy.spatial import cKDTree
    lon, lat = np.asarray(lon, dtype='float64'), np.asarray(lat, dtype='float64')
    out = np.zeros(lon.shape, bool)
    if lon.size == 0:
        return out
    angle = metres / MIN_CURVATURE_M * 1.01 + 1e-9
    chord = 2.0 * np.sin(min(angle, np.pi) / 2.0) if angle < np.pi else 2.0 + 1e-9
    found = cKDTree(unit_vectors(lon.ravel(), lat.ravel())).query_ball_point(
        unit_vectors(centre_lon, centre_lat), r=chord * (1 + 1e-9), return_sorted=False)
    counts = np.fromiter((len(f) for f in found), dtype=np.int64, count=len(found))
    if counts.sum() == 0:
        return out
    points = np.fromiter((i for f in found for i in f), dtype=np.int64, count=int(counts.sum()))
    centres = np.repeat(np.arange(counts.size), counts)
    flat_lon, flat_lat = lon.ravel(), lat.ravel()
    inside = within_distance(np.asarray(centre_lon, dtype='float64')[centres],
                             np.asarray(centre_lat, dtype='float64')[centres],
                             flat_lon[points], flat_lat[points], metres)
    flat = out.ravel()
    flat[points[inside]] = True
    return flat.reshape(lon.shape)


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
            f'shorten the path', field='width')
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
    _chord, nearest = cKDTree(unit_vectors(vlon, vlat)).query(unit_vectors(lon, lat), k=k)
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


def corridor_outline(vertices: tuple[np.ndarray, np.ndarray], half: float):
    """(region, reach): a lon/lat region holding the corridor, the union of geodesic discs of `reach`
    (half + spacing) around the path's vertices (a few hundred at most; a disc holding a pole is a cap)."""
    vlon, vlat = vertices
    stride = max(1, int(np.ceil(vlon.size / 400)))
    reach = half * 1.01 + stride * path_spacing(vertices)
    vlon, vlat = np.append(vlon[::stride], vlon[-1]), np.append(vlat[::stride], vlat[-1])
    return shapely.union_all(circles(vlon, vlat, reach)), reach


def corridor_bounds(vertices: tuple[np.ndarray, np.ndarray], reach: float) -> tuple[float, float, float, float]:
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
