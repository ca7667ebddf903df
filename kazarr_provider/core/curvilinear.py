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
        Corners are solved for (u, v) by Newton's method in a local tangent plane around the point.
        """
        lon, lat = np.atleast_1d(np.asarray(lon, 'float64')), np.atleast_1d(np.asarray(lat, 'float64'))
        n = lon.size
        rows, cols = np.zeros((n, 4), 'int64'), np.zeros((n, 4), 'int64')
        weights = np.full((n, 4), np.nan)
        i_near, j_near = self.indices(lon, lat)
        ny, nx = self.shape
        for p in range(n):
            if np.isnan(i_near[p]):
                continue
            i0, j0 = int(i_near[p]), int(j_near[p])
            for dj, di in ((-1, -1), (-1, 0), (0, -1), (0, 0)):
                j, i = j0 + dj, i0 + di
                if j < 0 or i < 0 or j + 1 >= ny or i + 1 >= nx:
                    continue
                quad_r = np.array([j, j, j + 1, j + 1])
                quad_c = np.array([i, i + 1, i, i + 1])
                x = (self.lon[quad_r, quad_c] - lon[p] + 180.0) % 360.0 - 180.0
                x = x * np.cos(np.radians(lat[p]))
                y = self.lat[quad_r, quad_c] - lat[p]
                u, v = _inverse_bilinear(x, y)
                if u is not None and -1e-9 <= u <= 1 + 1e-9 and -1e-9 <= v <= 1 + 1e-9:
                    rows[p], cols[p] = quad_r, quad_c
                    weights[p] = [(1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v]
                    break
        return rows, cols, weights


def _inverse_bilinear(x: np.ndarray, y: np.ndarray):
    """(u, v) with bilinear(corners, u, v) = (0, 0); corners ordered (0,0), (u=1), (v=1), (1,1)."""
    u = v = 0.5
    for _ in range(20):
        fx = (1 - u) * (1 - v) * x[0] + u * (1 - v) * x[1] + (1 - u) * v * x[2] + u * v * x[3]
        fy = (1 - u) * (1 - v) * y[0] + u * (1 - v) * y[1] + (1 - u) * v * y[2] + u * v * y[3]
        dxu = (1 - v) * (x[1] - x[0]) + v * (x[3] - x[2])
        dxv = (1 - u) * (x[2] - x[0]) + u * (x[3] - x[1])
        dyu = (1 - v) * (y[1] - y[0]) + v * (y[3] - y[2])
        dyv = (1 - u) * (y[2] - y[0]) + u * (y[3] - y[1])
        det = dxu * dyv - dxv * dyu
        if det == 0:
            return None, None
        du = (fx * dyv - fy * dxv) / det
        dv = (fy * dxu - fx * dyu) / det
        u, v = u - du, v - dv
        if abs(du) < 1e-12 and abs(dv) < 1e-12:
            break
    return u, v
