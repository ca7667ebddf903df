"""TriMesh -> UGRID 1.0 NetCDF (application/x-netcdf), the mesh process's file answer for QGIS's mesh layer.

One 2-D mesh topology `mesh` on nodes `mesh_node_x`/`mesh_node_y` (lon/lat) and triangles
`mesh_face_nodes` (nMesh_face, 3), 0-based, with a _FillValue -1 that no entry uses (older MDAL versions,
QGIS's mesh reader, fail without one; xarray then decodes the table as floats). Data variables lie on the
nodes (`location = "node"`, data_mapping 'vertices') or on the faces (`"face"`, 'cells'), NaN as
_FillValue. The lon/lat datum is a CF grid mapping `crs` (its WKT also as `wkt`, the attribute MDAL / QGIS
read) that the node coordinates and data variables name in `grid_mapping`. Like formats.to_netcdf:
NetCDF-3 (64-bit offset), scipy engine.
"""
from __future__ import annotations

import numpy as np
import xarray as xr
from pyproj import CRS

from ..core.compute.trimesh import TriMesh

MEDIA_TYPE = 'application/x-netcdf'
NODE, FACE, CORNER = 'nMesh_node', 'nMesh_face', 'nMaxMesh_face_nodes'
RESERVED = ('mesh', 'mesh_node_x', 'mesh_node_y', 'mesh_face_nodes', 'crs')
SKIP_ATTRS = ('_FillValue', 'missing_value', 'scale_factor', 'add_offset', 'grid_mapping', 'coordinates',
              'mesh', 'location')


def _clean(attrs: dict | None) -> dict:
    """NetCDF attributes hold strings and numbers only."""
    return {k: v for k, v in (attrs or {}).items()
            if k not in SKIP_ATTRS and isinstance(v, (str, int, float, np.number))}


def _crs_attrs(crs_wkt: str | None) -> dict:
    crs = CRS.from_user_input(crs_wkt or 'OGC:CRS84')
    attrs = {k: v for k, v in crs.to_cf().items() if isinstance(v, (str, int, float))}
    attrs['wkt'] = attrs.get('crs_wkt', crs.to_wkt())
    return attrs


def dataset(mesh: TriMesh, attrs: dict[str, dict] | None = None, crs_wkt: str | None = None) -> xr.Dataset:
    """The UGRID dataset `encode` writes."""
    attrs = attrs or {}
    topology = {'cf_role': 'mesh_topology', 'long_name': 'Topology data of 2D unstructured mesh',
                'topology_dimension': np.int32(2), 'node_coordinates': 'mesh_node_x mesh_node_y',
                'face_node_connectivity': 'mesh_face_nodes', 'face_dimension': FACE,
                'node_dimension': NODE}
    no_fill = {'_FillValue': None}
    coords = {
        'mesh_node_x': xr.Variable((NODE,), np.ascontiguousarray(mesh.vertices[:, 0], dtype='float64'),
                                   {'standard_name': 'longitude', 'long_name': 'longitude of mesh nodes',
                                    'units': 'degrees_east', 'grid_mapping': 'crs'}, encoding=no_fill),
        'mesh_node_y': xr.Variable((NODE,), np.ascontiguousarray(mesh.vertices[:, 1], dtype='float64'),
                                   {'standard_name': 'latitude', 'long_name': 'latitude of mesh nodes',
                                    'units': 'degrees_north', 'grid_mapping': 'crs'}, encoding=no_fill),
    }
    data_vars = {
        'mesh': xr.Variable((), np.int32(0), topology),
        'mesh_face_nodes': xr.Variable((FACE, CORNER), np.asarray(mesh.triangles, dtype='int32').reshape(-1, 3),
                                       {'cf_role': 'face_node_connectivity', 'start_index': np.int32(0),
                                        'long_name': 'Maps every triangular face to its three corner nodes, '
                                                     'counter-clockwise'},
                                       # never used (all faces are triangles), but MDAL before 0.6 reads it
                                       encoding={'_FillValue': np.int32(-1)}),
        'crs': xr.Variable((), np.int32(0), _crs_attrs(crs_wkt)),
    }
    dim, location = (NODE, 'node') if mesh.data_mapping == 'vertices' else (FACE, 'face')
    for name, values in mesh.values.items():
        if name in RESERVED:
            raise ValueError(f'{name!r} is a name of the mesh itself')
        values = np.asarray(values)
        if values.dtype.kind != 'f':
            values = values.astype('float64')
        var_attrs = {**_clean(attrs.get(name)), 'mesh': 'mesh', 'location': location, 'grid_mapping': 'crs'}
        data_vars[name] = xr.Variable((dim,), values, var_attrs, encoding={'_FillValue': np.nan})
    ds = xr.Dataset(data_vars, coords)
    ds.attrs = {'Conventions': 'CF-1.8 UGRID-1.0', 'source': 'kazarr_provider mesh process',
                'data_mapping': mesh.data_mapping}
    return ds


def encode(mesh: TriMesh, attrs: dict[str, dict] | None = None, crs_wkt: str | None = None) -> bytes:
    """UGRID 1.0 NetCDF bytes; `attrs` maps value names to their attributes (units, standard_name, ...)."""
    return bytes(dataset(mesh, attrs, crs_wkt).to_netcdf(format='NETCDF3_64BIT', engine='scipy'))
