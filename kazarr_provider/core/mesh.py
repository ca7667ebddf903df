"""Unstructured meshes: UGRID 2-D topologies (data on nodes or faces) and plain point lists.

Each location (nodes, faces) has its lon/lat and a KD-tree on 3-D unit vectors,
built once per dataset. Position: the nearest node/face, or, with
`interpolation=linear` on node data, barycentric weights in the containing
triangle. Area, cube, radius, corridor: the nodes/faces whose lon/lat qualify.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.spatial import cKDTree

from .curvilinear import unit_vectors


@dataclass
class Location:
    dim: str
    lon: np.ndarray
    lat: np.ndarray
    tree: cKDTree
    cutoff: float                       # chord distance beyond which a point is outside the mesh

    @classmethod
    def build(cls, dim: str, lon, lat) -> 'Location':
        lon = np.mod(np.asarray(lon, 'float64') + 180.0, 360.0) - 180.0
        lat = np.asarray(lat, 'float64')
        vectors = unit_vectors(lon, lat)
        tree = cKDTree(vectors)
        if lon.size > 1:
            distance, _ = tree.query(vectors, k=2)
            cutoff = float(np.percentile(distance[:, 1], 99)) * 1.5
        else:
            cutoff = 0.0
        return cls(dim, lon, lat, tree, cutoff)

    def nearest(self, lon, lat) -> np.ndarray:
        """Index of the nearest node/face; -1 beyond the mesh."""
        distance, index = self.tree.query(unit_vectors(lon, lat).reshape(-1, 3))
        return np.where(distance <= self.cutoff, index, -1)


@dataclass
class Mesh:
    locations: dict[str, Location]      # by dimension name
    node_dim: str | None = None
    faces: np.ndarray | None = None     # (n_face, 3) 0-based node indices of triangles, when known
    face_tree: cKDTree | None = None

    def triangle_weights(self, lon: np.ndarray, lat: np.ndarray):
        """(node indices (n, 3), barycentric weights (n, 3)); rows of -1/NaN where no triangle holds the point."""
        nodes = self.locations[self.node_dim]
        out_index = np.full((lon.size, 3), -1)
        out_weight = np.full((lon.size, 3), np.nan)
        if self.faces is None:
            return out_index, out_weight
        for start in range(0, lon.size, 65536):          # bounded temporaries: 12 triangles per point
            part = slice(start, start + 65536)
            out_index[part], out_weight[part] = self._containing(nodes, lon[part], lat[part])
        return out_index, out_weight

    def _containing(self, nodes: Location, lon: np.ndarray, lat: np.ndarray):
        """triangle_weights for all points at once: of the 12 triangles nearest each point, the first holding it."""
        out_index = np.full((lon.size, 3), -1)
        out_weight = np.full((lon.size, 3), np.nan)
        k = min(12, self.faces.shape[0])
        _d, candidates = self.face_tree.query(unit_vectors(lon, lat).reshape(-1, 3), k=k)
        tri = self.faces[np.asarray(candidates).reshape(lon.size, k)]      # (n, k, 3)
        x = nodes.lon[tri] - lon[:, None, None]
        x = (x + 180.0) % 360.0 - 180.0          # local frame around the point, across the antimeridian
        y = nodes.lat[tri] - lat[:, None, None]
        det = (y[..., 1] - y[..., 2]) * (x[..., 0] - x[..., 2]) + (x[..., 2] - x[..., 1]) * (y[..., 0] - y[..., 2])
        with np.errstate(divide='ignore', invalid='ignore'):
            w0 = ((y[..., 1] - y[..., 2]) * (0 - x[..., 2]) + (x[..., 2] - x[..., 1]) * (0 - y[..., 2])) / det
            w1 = ((y[..., 2] - y[..., 0]) * (0 - x[..., 2]) + (x[..., 0] - x[..., 2]) * (0 - y[..., 2])) / det
        w = np.stack([w0, w1, 1.0 - w0 - w1], axis=-1)                     # (n, k, 3)
        holds = (det != 0) & (w >= -1e-9).all(axis=-1)
        first = np.argmax(holds, axis=1)
        rows = np.flatnonzero(holds.any(axis=1))
        out_index[rows] = tri[rows, first[rows]]
        out_weight[rows] = w[rows, first[rows]]
        return out_index, out_weight


def _names(text) -> list[str]:
    return str(text or '').split()


def build_mesh(ds: xr.Dataset) -> Mesh | None:
    """A UGRID mesh_topology, or a plain point list (1-D lon/lat on one shared dimension)."""
    for name, var in ds.variables.items():
        if var.attrs.get('cf_role') == 'mesh_topology':
            return _ugrid(ds, var)
    from .axes import axis_kind, is_lonlat
    lon = lat = None
    for name, var in ds.coords.items():
        if var.ndim == 1 and is_lonlat(var) and name not in ds.dims:
            kind = axis_kind(var)
            lon = str(name) if kind == 'x' and lon is None else lon
            lat = str(name) if kind == 'y' and lat is None else lat
    if lon and lat and ds[lon].dims == ds[lat].dims:
        dim = str(ds[lon].dims[0])
        return Mesh({dim: Location.build(dim, ds[lon].values, ds[lat].values)}, node_dim=dim)
    return None


def _ugrid(ds: xr.Dataset, topology: xr.Variable) -> Mesh:
    attrs = topology.attrs
    node_lon, node_lat = (_ordered_lonlat(ds, _names(attrs.get('node_coordinates'))))
    node_dim = str(ds[node_lon].dims[0])
    locations = {node_dim: Location.build(node_dim, ds[node_lon].values, ds[node_lat].values)}
    faces = face_tree = None
    connectivity = attrs.get('face_node_connectivity')
    if connectivity:
        table = ds[connectivity]
        start = int(table.attrs.get('start_index', 0))
        values = np.asarray(table.values)
        fill = table.attrs.get('_FillValue', table.encoding.get('_FillValue'))
        face_dim = str(table.dims[0])
        triangles = values[:, :3].astype('int64') - start
        if values.shape[1] == 3 and (fill is None or not np.any(values == fill)):
            faces = triangles
        node_location = locations[node_dim]
        if attrs.get('face_coordinates'):
            face_lon, face_lat = _ordered_lonlat(ds, _names(attrs['face_coordinates']))
            centre_lon, centre_lat = ds[face_lon].values, ds[face_lat].values
        else:
            vectors = unit_vectors(node_location.lon, node_location.lat)[triangles].mean(axis=1)
            centre_lon = np.degrees(np.arctan2(vectors[:, 1], vectors[:, 0]))
            centre_lat = np.degrees(np.arcsin(vectors[:, 2] / np.linalg.norm(vectors, axis=1)))
        locations[face_dim] = Location.build(face_dim, centre_lon, centre_lat)
        if faces is not None:
            face_tree = locations[face_dim].tree
    return Mesh(locations, node_dim, faces, face_tree)


def _ordered_lonlat(ds: xr.Dataset, names: list[str]) -> tuple[str, str]:
    from .axes import axis_kind
    kinds = {axis_kind(ds[n]): n for n in names if n in ds.variables}
    if 'x' not in kinds or 'y' not in kinds:
        raise ValueError(f'mesh coordinates {names} are not CF longitude/latitude')
    return kinds['x'], kinds['y']
