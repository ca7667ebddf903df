"""Contour lines and polygons in lon/lat made valid GeoJSON at the antimeridian (RFC 7946 §3.1.9).

The lines and rings come in with longitudes that are each within [-180, 180] but may jump by about 360
between consecutive vertices where the geometry crosses ±180. Lines are cut there (the crossing point,
interpolated on latitude, ends one piece at ±180 and starts the next at ∓180); polygons are unwrapped,
cut with shapely into one piece per side and shifted back. Only the geometries that cross pay for this.

A ring winding once around a pole (a polar curvilinear grid) is closed through that pole before cutting,
so that a polar cap or a band around the pole becomes the lon/lat strip it covers.
"""
from __future__ import annotations

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import Polygon, box
from shapely.geometry.polygon import orient


def wrap(lon: np.ndarray) -> np.ndarray:
    """Longitudes into [-180, 180]; values already inside (±180 included) are kept exactly."""
    lon = np.asarray(lon, dtype='float64')
    inside = (lon >= -180.0) & (lon <= 180.0)
    if inside.all():
        return lon
    return np.where(inside, lon, np.mod(lon + 180.0, 360.0) - 180.0)


def _jumps(lon: np.ndarray) -> np.ndarray:
    """Per consecutive pair: does the longitude jump by more than 180 degrees (a ±180 crossing)?"""
    return np.abs(np.diff(lon)) > 180.0


def _unwrap(lon: np.ndarray) -> np.ndarray:
    return np.unwrap(lon, period=360.0)


def _sheet(lon: np.ndarray) -> np.ndarray:
    """Which copy of [-180, 180] an unwrapped longitude lies in (0: itself, 1: [180, 540], ...)."""
    return np.floor((lon + 180.0) / 360.0)


def split_lines(lon: np.ndarray, lat: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """The lines `lon[offsets[k]:offsets[k+1]]`, `lat[...]` (concatenated) as (n, 2) arrays with
    longitudes in [-180, 180], the ones crossing ±180 cut into pieces there. A closed line that crosses
    is reopened at a crossing, so its pieces are open lines; other lines keep their points exactly."""
    lon = wrap(lon)
    points = np.column_stack([lon, lat])
    jump = _jumps(lon)
    jump[offsets[1:-1] - 1] = False             # pairs across two lines are no segment
    crossing = np.zeros(len(offsets) - 1, dtype=bool)
    if jump.any():
        crossing[np.searchsorted(offsets, np.nonzero(jump)[0], side='right') - 1] = True
    lines: list[np.ndarray] = []
    for k, (start, stop) in enumerate(zip(offsets[:-1], offsets[1:])):
        if crossing[k]:
            lines.extend(_split_line(lon[start:stop], lat[start:stop]))
        else:
            lines.append(points[start:stop])
    return lines


def _split_line(lon: np.ndarray, lat: np.ndarray) -> list[np.ndarray]:
    closed = len(lon) > 2 and lon[0] == lon[-1] and lat[0] == lat[-1]
    lon = _unwrap(lon)
    a, b = lon[:-1], lon[1:]
    boundary = 180.0 + 360.0 * np.ceil((np.minimum(a, b) - 180.0) / 360.0)
    cuts = np.nonzero((np.minimum(a, b) < boundary) & (boundary < np.maximum(a, b)))[0]
    if cuts.size:                               # one crossing at most: a segment spans < 180 degrees
        t = (boundary[cuts] - a[cuts]) / (b[cuts] - a[cuts])
        cut_lat = lat[cuts] + t * (lat[cuts + 1] - lat[cuts])
        lon = np.insert(lon, cuts + 1, boundary[cuts])
        lat = np.insert(lat, cuts + 1, cut_lat)
    sheet = _sheet(0.5 * (lon[:-1] + lon[1:]))  # each segment now lies in one sheet
    changes = np.nonzero(sheet[1:] != sheet[:-1])[0] + 1
    starts = np.concatenate([[0], changes])
    stops = np.concatenate([changes, [len(sheet)]])
    pieces = []
    for start, stop in zip(starts, stops):
        shift = 360.0 * sheet[start]
        piece = np.column_stack([np.clip(lon[start:stop + 1] - shift, -180.0, 180.0), lat[start:stop + 1]])
        pieces.append((sheet[start], piece))
    if closed and len(pieces) > 1 and pieces[0][0] == pieces[-1][0]:
        first = pieces.pop(0)[1]                # the start was no crossing: join the last piece to it
        pieces[-1] = (pieces[-1][0], np.concatenate([pieces[-1][1], first[1:]]))
    # a piece left by a vertex a rounding error past ±180 is no line
    return [piece for _, piece in pieces if len(piece) >= 2 and (np.ptp(piece, axis=0) > 1e-9).any()]


def split_polygons(lon: np.ndarray, lat: np.ndarray, rings: np.ndarray,
                   polygons: np.ndarray) -> list[list[np.ndarray]]:
    """Polygons as RFC 7946 wants them: outer rings counter-clockwise, holes clockwise, those crossing ±180
    cut into one polygon per side. Ring k is `lon[rings[k]:rings[k+1]]`, `lat[...]` (closed; longitudes
    in any range, consecutive ones less than 180 degrees apart modulo 360); polygon p is the rings
    polygons[p] to polygons[p+1] - 1, the first its outer ring."""
    lon = wrap(lon)
    points = np.column_stack([lon, lat])
    inner = np.ones(len(lon) - 1, dtype=bool)
    inner[rings[1:-1] - 1] = False              # pairs across two rings are no edge
    crossing = np.zeros(len(rings) - 1, dtype=bool)
    jumps = np.nonzero(_jumps(lon) & inner)[0]
    crossing[np.searchsorted(rings, jumps, side='right') - 1] = True
    # planar signed area of each ring (shoelace), positive when counter-clockwise
    area = np.add.reduceat(np.where(inner, lon[:-1] * lat[1:] - lon[1:] * lat[:-1], 0.0), rings[:-1])
    outer = np.zeros(len(rings) - 1, dtype=bool)
    outer[polygons[:-1]] = True
    reverse = (area > 0) != outer
    result = []
    for first, stop in zip(polygons[:-1], polygons[1:]):
        if crossing[first:stop].any():
            result.extend(_split_crossing([points[rings[k]:rings[k + 1]] for k in range(first, stop)]))
        else:
            result.append([points[rings[k]:rings[k + 1]][::-1] if reverse[k] else points[rings[k]:rings[k + 1]]
                           for k in range(first, stop)])
    return result


def _unwrapped_polygon(ring: np.ndarray) -> Polygon:
    """The ring with continuous longitudes; a ring winding round a pole is closed through that pole (the
    one on the side of its mean latitude: the pole of a polar grid lies inside its index-space rings)."""
    lon, lat = _unwrap(ring[:, 0]), ring[:, 1]
    if abs(lon[-1] - lon[0]) > 180.0:
        pole = 90.0 if lat.mean() > 0 else -90.0
        along = np.linspace(lon[-1], lon[0], 9)   # along the pole in steps of 45 degrees: no long edge
        lon = np.concatenate([lon, along])
        lat = np.concatenate([lat, np.full(along.size, pole)])
    polygon = Polygon(np.column_stack([lon, lat]))
    return polygon if polygon.is_valid else shapely.make_valid(polygon)


def _split_crossing(rings: list[np.ndarray]) -> list[list[np.ndarray]]:
    shell = _unwrapped_polygon(rings[0])
    x0, y0, x1, y1 = shell.bounds
    centre = 0.5 * (x0 + x1)
    holes = []
    for ring in rings[1:]:
        hole = _unwrapped_polygon(ring)
        hx0, _, hx1, _ = hole.bounds
        shift = 360.0 * round((centre - 0.5 * (hx0 + hx1)) / 360.0)
        # the copies on either side too: a hole near the seam of a pole-winding shell is cut by it
        holes.extend(affinity.translate(hole, shift + extra) for extra in (-360.0, 0.0, 360.0))
    polygon = shell.difference(shapely.union_all(holes)) if holes else shell
    result = []
    for sheet in range(int(_sheet(np.array(x0))), int(_sheet(np.array(x1))) + 1):
        west = -180.0 + 360.0 * sheet
        piece = polygon.intersection(box(west, y0 - 1.0, west + 360.0, y1 + 1.0))
        piece = affinity.translate(piece, -360.0 * sheet)
        for part in _polygons(piece):
            if part.area <= 1e-9 * polygon.area:
                continue                        # a sliver left by a vertex a rounding error past ±180
            part = orient(part, sign=1.0)
            result.append([_clipped(part.exterior.coords)] + [_clipped(r.coords) for r in part.interiors])
    return result


def _polygons(geometry) -> list[Polygon]:
    if geometry.is_empty:
        return []
    if geometry.geom_type == 'Polygon':
        return [geometry] if geometry.area > 0 else []
    if hasattr(geometry, 'geoms'):
        return [p for g in geometry.geoms for p in _polygons(g)]
    return []                                   # points and lines left by the cut


def _clipped(coords) -> np.ndarray:
    ring = np.asarray(coords, dtype='float64')[:, :2].copy()
    ring[:, 0] = np.clip(ring[:, 0], -180.0, 180.0)
    return ring
