"""Curvilinear grids (2-D longitude/latitude: rotated, tripolar ocean grids).

A KD-tree on the cells' 3-D unit vectors, built once per dataset, finds the
cell nearest to a point whatever the grid's shape or the antimeridian; its
"native" coordinates are the cell's (i, j) indices.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def unit_vectors(lon, lat) -> np.ndarray:
    lon, lat = np.radians(np.asarray(lon, 'float64')), np.radians(np.asarray(lat, 'float64'))
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


class Curvilinear:
    def __init__(self, lon: np.ndarray, lat: np.ndarray):
        self.lon = np.mod(np.asarray(lon, 'float64') + 180.0, 360.0) - 180.0
        self.lat = np.asarray(lat, 'float64')
        self.shape = self.lat.shape
        points = unit_vectors(self.lon, self.lat).reshape(-1, 3)
        self.tree = cKDTree(points)
        # a point farther than the largest neighbour spacing from every cell centre is outside the grid
        vectors = points.reshape(self.shape + (3,))
        spacing = max(np.linalg.norm(np.diff(vectors, axis=0), axis=-1).max(initial=0),
                      np.linalg.norm(np.diff(vectors, axis=1), axis=-1).max(initial=0))
        self.cutoff = float(spacing) * 0.75

    def indices(self, lon, lat, clip: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(i, j) of the nearest cell as floats; NaN beyond the grid unless `clip`."""
        query = unit_vectors(lon, lat)
        distance, flat = self.tree.query(query.reshape(-1, 3))
        j, i = np.unravel_index(flat, self.shape)
        i, j = i.astype('float64'), j.astype('float64')
        if not clip:
            outside = distance > self.cutoff
            i[outside], j[outside] = np.nan, np.nan
        return i.reshape(np.shape(lon)), j.reshape(np.shape(lon))

    def lonlat(self, i, j) -> tuple[np.ndarray, np.ndarray]:
        i, j = np.asarray(i).astype('int64'), np.asarray(j).astype('int64')
        return self.lon[j, i], self.lat[j, i]

    def bbox(self) -> list[float]:
        """CRS84 bounding box of the cell centres (minx > maxx when crossing the antimeridian)."""
        south, north = float(self.lat.min()), float(self.lat.max())
        lon = np.sort(np.unique(np.round(self.lon.ravel(), 6)))
        gaps = np.diff(np.concatenate([lon, [lon[0] + 360.0]]))
        widest = int(np.argmax(gaps))
        if gaps[widest] < 1.0:
            return [-180.0, south, 180.0, north]
        west, east = lon[(widest + 1) % lon.size], lon[widest]
        return [float(west), south, float(east), north]

    def quad_weights(self, lon, lat):
        """Inverse-bilinear weights of each point in the grid quad that contains it.

        Returns (rows (n, 4), cols (n, 4), weights (n, 4)); weights NaN where no quad holds the point.
        Corners are solved for (u, v) by Newton's method in a local tangent plane around the point. The four
        quads sharing the nearest cell are tried in turn, for all points at once; a point keeps the first
        that holds it.
        """
        lon, lat = np.atleast_1d(np.asarray(lon, 'float64')), np.atleast_1d(np.asarray(lat, 'float64'))
        n = lon.size
        rows, cols = np.zeros((n, 4), 'int64'), np.zeros((n, 4), 'int64')
        weights = np.full((n, 4), np.nan)
        i_near, j_near = self.indices(lon, lat)
        ny, nx = self.shape
        known = np.flatnonzero(~np.isnan(i_near))
        i0, j0 = i_near[known].astype('int64'), j_near[known].astype('int64')
        open_ = np.ones(known.size, bool)                     # no quad found yet
        for dj, di in ((-1, -1), (-1, 0), (0, -1), (0, 0)):
            j, i = j0 + dj, i0 + di
            tried = np.flatnonzero(open_ & (j >= 0) & (i >= 0) & (j + 1 < ny) & (i + 1 < nx))
            if tried.size == 0:
                continue
            quad_r = j[tried, None] + np.array([0, 0, 1, 1])
            quad_c = i[tried, None] + np.array([0, 1, 0, 1])
            p = known[tried]
            x = (self.lon[quad_r, quad_c] - lon[p, None] + 180.0) % 360.0 - 180.0
            x = x * np.cos(np.radians(lat[p]))[:, None]
            y = self.lat[quad_r, quad_c] - lat[p, None]
            u, v = _inverse_bilinear(x, y)
            inside = (-1e-9 <= u) & (u <= 1 + 1e-9) & (-1e-9 <= v) & (v <= 1 + 1e-9)
            hit, u, v = tried[inside], u[inside], v[inside]
            rows[known[hit]], cols[known[hit]] = quad_r[inside], quad_c[inside]
            weights[known[hit]] = np.column_stack([(1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v])
            open_[hit] = False
        return rows, cols, weights


def _inverse_bilinear(x: np.ndarray, y: np.ndarray):
    """(u, v) per row with bilinear(corners, u, v) = (0, 0); corners (n, 4) ordered (0,0), (u=1), (v=1), (1,1).

    Newton's method from the centre, each row stopping when its step is below 1e-12 (at most 20 steps);
    NaN where a Jacobian vanishes.
    """
    n = x.shape[0]
    u, v = np.full(n, 0.5), np.full(n, 0.5)
    active = np.arange(n)
    for _ in range(20):
        if active.size == 0:
            break
        a, b = x[active].T, y[active].T
        ua, va = u[active], v[active]
        fx = (1 - ua) * (1 - va) * a[0] + ua * (1 - va) * a[1] + (1 - ua) * va * a[2] + ua * va * a[3]
        fy = (1 - ua) * (1 - va) * b[0] + ua * (1 - va) * b[1] + (1 - ua) * va * b[2] + ua * va * b[3]
        dxu = (1 - va) * (a[1] - a[0]) + va * (a[3] - a[2])
        dxv = (1 - ua) * (a[2] - a[0]) + ua * (a[3] - a[1])
        dyu = (1 - va) * (b[1] - b[0]) + va * (b[3] - b[2])
        dyv = (1 - ua) * (b[2] - b[0]) + ua * (b[3] - b[1])
        det = dxu * dyv - dxv * dyu
        flat = det == 0
        u[active[flat]], v[active[flat]] = np.nan, np.nan
        with np.errstate(divide='ignore', invalid='ignore'):
            du = (fx * dyv - fy * dxv) / det
            dv = (fy * dxu - fx * dyu) / det
        moving = ~flat
        u[active[moving]] = ua[moving] - du[moving]
        v[active[moving]] = va[moving] - dv[moving]
        active = active[moving & ~((np.abs(du) < 1e-12) & (np.abs(dv) < 1e-12))]
    return u, v
