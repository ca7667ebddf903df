"""Queries on unstructured meshes: answers are points (nodes or face centres), never grids."""
from __future__ import annotations

import numpy as np
import xarray as xr

from ...errors import InvalidParameter, NoData
from ..coords import to_crs84_lon
from ..model import GridModel
from ..query import Query
from ..blocks import Block
from .plan import Selected, check_size, mask_invalid, plan_groups
from .regions import bbox_mask, corridor_distance, densified_path, near_any, polygon_mask


def _region_mask(query: Query, location) -> np.ndarray:
    if query.kind == 'cube':
        return bbox_mask(location.lon, location.lat, *query.bbox)
    if query.kind == 'area':
        return polygon_mask(query.polygon, location.lon, location.lat)
    if query.kind == 'radius':          # every centre at once: a KD-tree proposes, the geodesic decides
        return near_any(query.points[:, 0], query.points[:, 1], query.within_m, location.lon, location.lat)
    half = query.width_m / 2.0        # geodesic distance to the path, as on grids
    return corridor_distance(location.lon, location.lat, densified_path(query.line, half), half) <= half


def _location_of(model: GridModel, dims) -> str:
    return next(d for d in dims if d in model.mesh.locations)


def select_mesh(ds: xr.Dataset, model: GridModel, query: Query, limit: int) -> Selected:
    mesh = model.mesh
    if query.vertex_t is not None or query.vertex_z is not None:
        raise InvalidParameter('trajectories with Z or M are not supported on meshes yet; give the time and '
                               'the vertical level for the whole path instead', field='geometry')
    # a region's answer is the set of nodes/faces in it: a multi-point domain, whatever was asked
    multi = query.multi or query.kind not in ('position', 'trajectory')
    names = query.parameters or list(model.variables)
    by_location: dict[str, list[str]] = {}
    for name in names:
        by_location.setdefault(_location_of(model, model.variables[name].dims), []).append(name)
    blocks = []
    for dim, group in by_location.items():
        location = mesh.locations[dim]
        linear = query.interpolation.spatial == 'linear'
        if linear and (dim != mesh.node_dim or mesh.faces is None):
            raise InvalidParameter(f'linear (barycentric) interpolation needs data on the nodes of a triangle '
                                   f'mesh; {", ".join(group)} lie on {dim}', field='interpolation')
        if query.kind in ('position', 'trajectory'):
            lon, lat = to_crs84_lon(query.points[:, 0]), query.points[:, 1]
            if linear:
                index, weights = mesh.triangle_weights(lon, lat)
                inside = (index >= 0).all(axis=1)
            else:
                nearest = location.nearest(lon, lat)
                index, weights = nearest[:, None], np.ones((lon.size, 1))
                inside = nearest >= 0
            if not inside.any():
                raise NoData('the requested point(s) lie outside the mesh')
            # every requested point keeps its place (missing values outside), as on grids; a MULTIPOINT or a
            # trajectory is answered where it was asked (distinct tuples), a POINT at the node/face that answered
            if linear or query.multi or query.kind == 'trajectory':
                where = np.column_stack([lon, lat])
            else:
                where = np.column_stack([location.lon[np.maximum(index[:, 0], 0)],
                                         location.lat[np.maximum(index[:, 0], 0)]])
                where[~inside] = np.column_stack([lon, lat])[~inside]
        else:
            selected = np.flatnonzero(_region_mask(query, location))
            if selected.size == 0:
                continue
            check_size(selected.size, limit)
            index, weights = selected[:, None], np.ones((selected.size, 1))
            inside = np.ones(selected.size, bool)
            where = np.column_stack([location.lon[selected], location.lat[selected]])
        for plan in plan_groups(model, query, index.shape[0], limit):
            if not any(name in group for name in plan.names):
                continue
            cells = np.unique(index[index >= 0])
            order = list(plan.axes) + [dim]
            values = {}
            for name in (n for n in plan.names if n in group):
                read = ds[name].isel({**plan.indexers, dim: cells}).transpose(*order).values
                read = mask_invalid(read, model.variables[name]).astype('float64')
                lookup = np.searchsorted(cells, np.maximum(index, 0))
                window = read[..., lookup]                              # (..., n, k)
                combined = np.einsum('...nk,nk->...n', window, np.nan_to_num(weights))
                values[name] = plan.blend(np.where(inside, combined, np.nan))
            axes = plan.block_axes(model)
            axes['point'] = np.arange(index.shape[0])
            kind = 'trajectory' if query.kind == 'trajectory' else 'points'
            block = Block(kind, axes, values, where, plan.custom_dims(model))
            blocks.append(block)
    if not blocks:
        raise NoData('no node or face of the mesh lies in the requested region')
    return Selected(tuple(blocks), multi=multi)
