"""The processes: each one's inputs, outputs and computation, declared once (the registry).

A process's `run(opened, inputs, formats, limit, progress)` takes validated inputs and answers
{output id: (media type, bytes)}. It reads through the shared window selection (limits checked before
reading) and computes with the pure core (`core/compute`); the encoders are the API's own. `progress`
(percent, message) lets a job report and stop cooperatively; synchronous runs pass a no-op.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import orjson

from ...core.blocks import Block
from ...core.compute import contours, trimesh
from ...core.select.dispatch import select
from ...core.select.plan import check_size
from ...data.catalogue import OpenDataset
from ...errors import InvalidParameter, KazarrError, NoData
from ...formats import to_covjson, to_geotiff, to_mesh_json, to_netcdf, to_ugrid
from . import inputs as I
from .window import read_window

GEOJSON = 'application/geo+json'
JSON = 'application/json'


@dataclass(frozen=True)
class Output:
    name: str
    title: str
    media_types: tuple[str, ...]            # the first is the default

    def document(self) -> dict:
        schema = [{'type': 'string', 'contentMediaType': media} if 'json' not in media else
                  {'type': 'object', 'contentMediaType': media} for media in self.media_types]
        return {'title': self.title, 'schema': schema[0] if len(schema) == 1 else {'oneOf': schema}}


@dataclass(frozen=True)
class Process:
    id: str
    title: str
    description: str
    inputs: Mapping[str, I.Input]
    outputs: Mapping[str, Output]
    run: Callable
    example: Mapping = field(default_factory=dict)
    version: str = '1.0.0'


def _named(*items):
    return {item.name: item for item in items}


def _slice_properties(window) -> dict:
    return {key: value for key, value in window.slice.items()}


# ---- isolines / isobands ------------------------------------------------------------------------------

def _contour_window(opened: OpenDataset, inputs: Mapping, limit: int):
    if opened.model.mesh is not None:
        raise InvalidParameter('collection: contours need a grid; this collection is an unstructured mesh '
                               '(the mesh process serves it)', 'collection')
    if 'parameter' not in inputs:
        raise InvalidParameter(f'parameter: required; one of {", ".join(opened.model.variables)}', 'parameter')
    query, _ = I.window_query(inputs, opened.model)
    window = read_window(opened.ds, opened.model, query, limit)
    name = inputs['parameter']
    values = window.values[name]
    try:
        levels = contours.contour_levels(inputs['levels'], values)
    except KazarrError as error:
        raise I.as_input_error(error, opened.model) from None
    return window, name, values, levels


def _in_batches(compute, items, progress, what: str) -> list:
    """`compute(batch)` over ~10 batches of `items`, reporting progress between them: a job shows it
    moving, and a dismissed one stops at the next batch."""
    out, size = [], max(1, -(-len(items) // 10))
    for start in range(0, len(items), size):
        progress(30 + 60 * start // max(1, len(items)), f'{what}: {start} of {len(items)} done')
        out += compute(items[start:start + size])
    return out


def run_isolines(opened: OpenDataset, inputs: Mapping, formats: Mapping, limit: int, progress) -> dict:
    window, name, values, levels = _contour_window(opened, inputs, limit)
    lines = _in_batches(lambda batch: contours.isolines(values, window.lon, window.lat, batch), list(levels),
                        progress, f'contouring {values.shape[1]} x {values.shape[0]} cells, levels')
    base = {'parameter': name, 'unit': window.units.get(name), **_slice_properties(window)}
    features = [{'type': 'Feature', 'geometry': contours.geojson_multilinestring(parts),
                 'properties': {'level': float(level), **base}} for level, parts in zip(levels, lines)]
    return {'isolines': (GEOJSON, _feature_collection(features))}


def run_isobands(opened: OpenDataset, inputs: Mapping, formats: Mapping, limit: int, progress) -> dict:
    window, name, values, levels = _contour_window(opened, inputs, limit)
    if len(levels) < 2:
        raise InvalidParameter('levels: isobands need at least two levels (each band lies between two)', 'levels')
    # a batch of consecutive bands is one call on their levels (the band k lies between levels k and k+1)
    bands = _in_batches(lambda batch: contours.isobands(values, window.lon, window.lat,
                                                        levels[batch[0]:batch[-1] + 2]),
                        list(range(len(levels) - 1)), progress,
                        f'filling {values.shape[1]} x {values.shape[0]} cells, bands')
    base = {'parameter': name, 'unit': window.units.get(name), **_slice_properties(window)}
    features = [{'type': 'Feature', 'geometry': contours.geojson_multipolygon(polygons),
                 'properties': {'lower': float(lower), 'upper': float(upper), **base}}
                for lower, upper, polygons in zip(levels[:-1], levels[1:], bands)]
    return {'isobands': (GEOJSON, _feature_collection(features))}


def _feature_collection(features: list[dict]) -> bytes:
    return orjson.dumps({'type': 'FeatureCollection', 'features': features}, option=orjson.OPT_SERIALIZE_NUMPY)


# ---- regrid --------------------------------------------------------------------------------------------

def lattice(opened: OpenDataset, inputs: Mapping, limit: int, several: bool = True):
    """(blocks on the nx x ny lattice, lon, lat, query): the fields sampled at the lattice's cell centres."""
    model = opened.model
    query, _ = I.window_query(inputs, model, several=several)
    interpolation = I.interpolation(inputs)
    if interpolation.spatial not in ('nearest', 'linear') and (model.curvilinear is not None
                                                                or model.mesh is not None):
        raise InvalidParameter(f'method: {interpolation.spatial} needs a regular grid; this collection is '
                               f'{"a mesh" if model.mesh is not None else "curvilinear"} (nearest and linear are '
                               'available)', 'method')
    nx, ny = (int(v) for v in inputs['size'])
    west, south, east, north = query.bbox
    if east < west:
        east += 360.0
    lon = west + (east - west) * (np.arange(nx) + 0.5) / nx
    lat = north - (north - south) * (np.arange(ny) + 0.5) / ny
    fields = len(query.parameters or model.variables)
    check_size(nx * ny * fields, limit)
    grid_lon, grid_lat = np.meshgrid(lon, lat)
    points = np.column_stack([(grid_lon.ravel() + 180.0) % 360.0 - 180.0, grid_lat.ravel()])
    point_query = dataclasses.replace(query, kind='position', points=points, multi=True, bbox=None,
                                      interpolation=interpolation)
    try:
        selected = select(opened.ds, model, point_query, limit)
    except KazarrError as error:
        raise I.as_input_error(error, model) from None
    blocks = []
    for block in selected.blocks:
        axes = {k: v for k, v in block.axes.items() if k != 'point'}
        values = {name: np.asarray(array, dtype='float64').reshape(array.shape[:-1] + (ny, nx))
                  for name, array in block.values.items()}
        blocks.append(Block('grid', {**axes, 'y': lat, 'x': lon}, values, custom_dims=block.custom_dims))
    if not blocks or all(np.isnan(v).all() for b in blocks for v in b.values.values()):
        raise NoData('the bbox holds no cell of the data')
    return blocks, lon, lat, query


def run_regrid(opened: OpenDataset, inputs: Mapping, formats: Mapping, limit: int, progress) -> dict:
    progress(10, 'sampling the lattice')
    blocks, lon, lat, query = lattice(opened, inputs, limit)
    media = formats.get('coverage', to_covjson.MEDIA_TYPE)
    progress(80, f'encoding {media}')
    if media == to_netcdf.MEDIA_TYPE:
        body = to_netcdf.encode(blocks, opened.model)
    elif media == to_geotiff.MEDIA_TYPE:
        west, _, _, north = query.bbox
        dx = (query.bbox[2] - west + (360.0 if query.bbox[2] < west else 0.0)) / lon.size
        dy = (north - query.bbox[1]) / lat.size
        try:
            body = to_geotiff.encode(blocks, opened.model, crs='OGC:CRS84', transform=(dx, 0.0, west, 0.0, -dy, north),
                                     fields=list(query.parameters or []) or None)
        except ValueError as error:
            raise InvalidParameter(f'outputs: this answer does not fit one GeoTIFF ({error}); ask NetCDF',
                                   'outputs') from None
    else:
        body = to_covjson.encode(to_covjson.build(blocks, opened.model))
    return {'coverage': (media, body if isinstance(body, bytes) else b''.join(body))}


# ---- mesh ----------------------------------------------------------------------------------------------

def run_mesh(opened: OpenDataset, inputs: Mapping, formats: Mapping, limit: int, progress) -> dict:
    model = opened.model
    mapping = inputs.get('data_mapping', 'vertices')
    names = [inputs['parameter']] if inputs.get('parameter') else []
    if model.mesh is not None:
        mesh = _ugrid(opened, inputs, names, mapping, limit)
        used = {}
    elif inputs.get('size') is not None:
        blocks, lon, lat, _ = lattice(opened, {**inputs, 'parameter': names or None} if names else
                                      {k: v for k, v in inputs.items() if k != 'parameter'}, limit, several=False)
        values = {n: b.values[n].reshape(lat.size, lon.size) for b in blocks for n in b.values if n in names}
        valid = None if values else ~np.isnan(next(iter(blocks[0].values.values())).reshape(lat.size, lon.size))
        progress(60, 'triangulating')
        mesh = trimesh.grid_mesh(*np.meshgrid(lon, lat), values, mapping, valid=valid)
        used = {}
    else:
        query, _ = I.window_query({**inputs, 'parameter': names[0]} if names else inputs, model)
        window = read_window(opened.ds, model, query, limit)
        values = {n: window.values[n] for n in names}
        valid = None if values else np.isfinite(next(iter(window.values.values())))
        progress(60, 'triangulating')
        mesh = trimesh.grid_mesh(window.lon, window.lat, values, mapping, valid=valid)
        used = dict(window.slice)
    media = formats.get('mesh', JSON)
    if media == to_ugrid.MEDIA_TYPE:
        attrs = {n: dict(model.variables[n].attrs) for n in names}
        return {'mesh': (media, to_ugrid.encode(mesh, attrs))}
    document = to_mesh_json.to_json(mesh)
    if used:
        document['slice'] = used
    return {'mesh': (JSON, orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY))}


def _ugrid(opened: OpenDataset, inputs: Mapping, names: list[str], mapping: str, limit: int):
    model = opened.model
    mesh = model.mesh
    if mesh.node_dim is None or mesh.faces is None:
        raise InvalidParameter('collection: this mesh declares no faces to triangulate', 'collection')
    if inputs.get('size') is not None:
        raise InvalidParameter('size: a UGRID mesh is answered on its own faces; drop size', 'size')
    nodes = mesh.locations[mesh.node_dim]
    query, _ = I.window_query({k: v for k, v in inputs.items() if k != 'parameter'}, model)
    west, south, east, north = query.bbox
    lon = nodes.lon if east >= west else np.where(nodes.lon < west, nodes.lon + 360.0, nodes.lon)
    east = east if east >= west else east + 360.0
    keep = (lon >= west) & (lon <= east) & (nodes.lat >= south) & (nodes.lat <= north)
    if not keep.any():
        raise NoData('the bbox holds no node of the mesh')
    check_size(int(keep.sum()) * max(1, len(names)), limit)
    node_values, face_values = {}, {}
    for name in names:
        variable = opened.ds[name]
        indexers = {dim: 0 for dim in variable.dims if dim not in mesh.locations}
        array = np.asarray(variable.isel(indexers).values, dtype='float64')
        location = next(d for d in variable.dims if d in mesh.locations)
        (node_values if location == mesh.node_dim else face_values)[name] = array
    if mapping == 'vertices' and face_values:
        raise InvalidParameter('data_mapping: this parameter lies on faces; ask data_mapping=cells', 'data_mapping')
    if mapping == 'cells' and node_values:
        raise InvalidParameter('data_mapping: this parameter lies on nodes; ask data_mapping=vertices',
                               'data_mapping')
    return trimesh.ugrid_mesh(nodes.lon, nodes.lat, mesh.faces, node_values or None, face_values or None,
                              keep_nodes=keep)


COMMON = (I.COLLECTION, I.BBOX, I.DATETIME, I.Z, I.DIMENSIONS)
PROCESSES = {process.id: process for process in (
    Process('isolines', 'Isolines', 'Contour lines of one field at the given levels, on one slice (time, level, '
            'other dimensions) inside a bbox: one Feature per level with a MultiLineString in lon/lat (split at '
            'the antimeridian); separate contours stay separate lines, closed ones repeat their first point.',
            _named(I.COLLECTION, dataclasses.replace(I.PARAMETER, required=True), I.LEVELS, *COMMON[1:]),
            _named(Output('isolines', 'Isolines (GeoJSON FeatureCollection)', (GEOJSON,))), run_isolines,
            {'collection': 'era5.pressure_levels', 'parameter': 't', 'levels': {'step': 5},
             'bbox': [-10, 35, 20, 60]}),
    Process('isobands', 'Isobands', 'Filled contours between consecutive levels: one Feature per band with a '
            'MultiPolygon (outer rings counter-clockwise, holes clockwise), lower <= value < upper.',
            _named(I.COLLECTION, dataclasses.replace(I.PARAMETER, required=True), I.LEVELS, *COMMON[1:]),
            _named(Output('isobands', 'Isobands (GeoJSON FeatureCollection)', (GEOJSON,))), run_isobands,
            {'collection': 'era5.pressure_levels', 'parameter': 't', 'levels': [270, 280, 290, 300],
             'bbox': [-10, 35, 20, 60]}),
    Process('mesh', 'Triangle mesh', 'The support mesh of a grid window (or a UGRID mesh\'s own faces) as '
            'counter-clockwise triangles, with a parameter\'s values attached when asked; optionally resampled '
            'onto an nx x ny lattice first.',
            _named(I.COLLECTION, I.PARAMETER, I.DATA_MAPPING, I.SIZE, I.METHOD, I.METHOD_PARAMS, *COMMON[1:]),
            _named(Output('mesh', 'Mesh: JSON (vertices, triangles, values) or UGRID 1.0 NetCDF',
                          (JSON, to_ugrid.MEDIA_TYPE))), run_mesh,
            {'collection': 'era5.pressure_levels', 'parameter': 't', 'bbox': [0, 40, 10, 50]}),
    Process('regrid', 'Regrid onto a lattice', 'The fields sampled onto an nx x ny lattice of cell centres '
            'spanning the bbox, with an interpolation method (as EDR\'s).',
            _named(I.COLLECTION, I.PARAMETERS, dataclasses.replace(I.BBOX, required=True),
                   dataclasses.replace(I.SIZE, required=True), I.METHOD, I.METHOD_PARAMS, *COMMON[2:]),
            _named(Output('coverage', 'The lattice as CoverageJSON (Grid), NetCDF or GeoTIFF',
                          (to_covjson.MEDIA_TYPE, to_netcdf.MEDIA_TYPE, to_geotiff.MEDIA_TYPE))), run_regrid,
            {'collection': 'era5.pressure_levels', 'parameter': ['t'], 'bbox': [0, 40, 10, 50], 'size': [40, 40],
             'method': 'linear'}),
)}
