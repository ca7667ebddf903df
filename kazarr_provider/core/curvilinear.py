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
