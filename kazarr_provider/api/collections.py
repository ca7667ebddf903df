"""Collection metadata computed from the data (extents, parameters, queries).

Two consumers: the EDR collection document (`collection_document`) and
pygeoapi's own resource configuration (`pygeoapi_resource`), which needs at
least a spatial bbox and wants the temporal bounds.
"""
from __future__ import annotations

import datetime as dt

import numpy as np

from ..core.coords import to_crs84_lon
from ..core.crs import crs_name, crs_uri
from ..core.model import GridModel
from ..core.times import iso
from .declarations import DISTANCE_UNITS, QUERY_TYPES
from ..formats import FORMATS, DEFAULT_FORMAT
from ..formats.to_covjson import calendar_uri, parameter

CRS84 = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'
CRS84_WKT = ('GEOGCRS["WGS 84 (CRS84)",DATUM["World Geodetic System 1984",ELLIPSOID["WGS 84",6378137,'
             '298.257223563]],CS[ellipsoidal,2],AXIS["geodetic longitude (Lon)",east,ANGLEUNIT["degree",'
             '0.0174532925199433]],AXIS["geodetic latitude (Lat)",north,ANGLEUNIT["degree",0.0174532925199433]],'
             'ID["OGC","CRS84"]]')
PROVIDER = 'kazarr_provider.edr.KazarrEDRProvider'


def _footprint(model: GridModel) -> list[float]:
    """A projected grid's true CRS84 footprint: its cell-edge outline, densified, transformed."""
    xe, ye = model.x_axis.edges, model.y_axis.edges
    _x, _y, lon, lat = model.outline
    ok = np.isfinite(lon) & np.isfinite(lat)
    lon, lat = lon[ok], lat[ok]
    south, north = float(lat.min()), float(lat.max())
    for pole_lat in (90.0, -90.0):
        px, py = model.native(0.0, pole_lat)
        if np.isfinite(px) and xe[0] <= px <= xe[-1] and ye[0] <= py <= ye[-1]:
            # the grid holds a pole: every longitude, up to the pole
            return [-180.0, south if pole_lat > 0 else -90.0, 180.0, 90.0 if pole_lat > 0 else north]
    unwrapped = np.degrees(np.unwrap(np.radians(lon)))
    west, east = float(to_crs84_lon(unwrapped.min())), float(to_crs84_lon(unwrapped.max()))
    return [round(west, 10), round(south, 10), round(east, 10), round(north, 10)]


def spatial_bbox(model: GridModel) -> list[float]:
    """[minx, miny, maxx, maxy] of the cell edges in CRS84; minx > maxx when crossing the antimeridian."""
    if model.curvilinear is not None:
        return model.curvilinear.bbox()
    if model.mesh is not None:
        nodes = model.mesh.locations[model.mesh.node_dim]
        return [float(nodes.lon.min()), float(nodes.lat.min()), float(nodes.lon.max()), float(nodes.lat.max())]
    if model.projected:
        return _footprint(model)
    x = model.x_axis
    if x.is_global:
        west, east = -180.0, 180.0
    else:
        west = float(to_crs84_lon(x.edges[0]))
        east = float(to_crs84_lon(x.edges[-1]))
        if east == -180.0:
            east = 180.0
    south = float(max(-90.0, model.y_axis.edges[0]))
    north = float(min(90.0, model.y_axis.edges[-1]))
    return [round(west, 10), round(south, 10), round(east, 10), round(north, 10)]


def _scalar(value):
    return value.item() if isinstance(value, np.generic) else value


def _jsonable(attrs: dict) -> dict:
    out = {}
    for key, value in attrs.items():
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, (list, tuple)):
            value = [_scalar(v) for v in value]
        else:
            value = _scalar(value)
        if isinstance(value, float) and not np.isfinite(value):
            value = str(value)
        out[str(key)] = value
    return out


MAX_LISTED_TIMES = 1000       # beyond this, `values` is an ISO 8601 recurrence (regular steps) or absent


def temporal_extent(model: GridModel) -> dict:
    """interval, trs and the steps: listed up to MAX_LISTED_TIMES; beyond, `R{n}/{first}/{step}` when the
    steps are regular, else only the interval and the count (`kazarr:steps`). Only what is shown is formatted."""
    seconds = np.sort(model.t_seconds)
    first, last = iso(seconds[[0, -1]], model.calendar)
    out = {'interval': [[first, last]], 'trs': calendar_uri(model.calendar)}
    if seconds.size <= MAX_LISTED_TIMES:
        out['values'] = iso(seconds, model.calendar)
        return out
    steps = np.diff(seconds)
    if model.calendar in (None, 'standard', 'gregorian', 'proleptic_gregorian') and np.all(steps == steps[0]):
        out['values'] = [f'R{seconds.size}/{first}/PT{int(steps[0])}S']
    out['kazarr:steps'] = int(seconds.size)
    return out


def extent(model: GridModel) -> dict:
    out = {'spatial': {'bbox': [spatial_bbox(model)], 'crs': CRS84}}
    if model.t:
        out['temporal'] = temporal_extent(model)
    if model.z:
        levels = model.z_values
        units = model.z_attrs.get('units', '')
        out['vertical'] = {'interval': [[str(_scalar(levels.min())), str(_scalar(levels.max()))]],
                           'values': [str(v) for v in levels.tolist()],
                           'vrs': f"VERTCS[\"{model.z_attrs.get('long_name', model.z)}\",UNIT[\"{units}\"]]"}
    if model.custom:
        out['custom'] = []
        for axis in model.custom.values():
            values = axis.values.tolist()
            entry = {'id': axis.name, 'values': values,
                     'reference': str(axis.attrs.get('long_name', axis.name))}
            if axis.numeric is not None:
                entry['interval'] = [[min(values), max(values)]]
            out['custom'].append(entry)
    return out


def parameter_names(model: GridModel) -> dict:
    out = {}
    for name in model.variables:
        param = parameter(model, name)
        attrs = model.variables[name].attrs
        entry = {
            'type': 'Parameter',
            'id': name,
            'description': param['description']['en'],
            'observedProperty': {'id': str(attrs.get('standard_name') or name),
                                 'label': param['observedProperty']['label']['en']},
        }
        if 'unit' in param:
            entry['unit'] = {'label': str(attrs['units']), 'symbol': str(attrs['units'])}
        out[name] = entry
    return out


def storage_crs(model: GridModel) -> str:
    """How the grid's own CRS is named everywhere (crs, storageCrs, crs_details): its URI, else its WKT."""
    if not model.projected:
        return CRS84
    return crs_uri(model.crs) or model.crs.to_wkt()


def crs_details(model: GridModel) -> list[dict]:
    details = [{'crs': 'CRS84', 'wkt': CRS84_WKT}]
    if model.projected:
        details.append({'crs': storage_crs(model), 'wkt': model.crs.to_wkt()})
    return details


def data_queries(collection_url: str, model: GridModel) -> dict:
    formats = list(FORMATS)
    queries = {}
    for query_type in QUERY_TYPES:
        variables = {
            'title': f'{query_type} query',
            'query_type': query_type,
            'output_formats': formats,
            'default_output_format': DEFAULT_FORMAT,
            'crs_details': crs_details(model),
        }
        if query_type == 'cube' or (query_type == 'corridor' and model.z):
            # required of cube (EDR 1.1 /req/edr/rc-cube-variables): none without a vertical axis
            variables['height_units'] = [str(model.z_attrs.get('units', ''))] if model.z else []
        if query_type == 'radius':
            variables['within_units'] = list(DISTANCE_UNITS)
        if query_type == 'corridor':
            variables['width_units'] = list(DISTANCE_UNITS)
        queries[query_type] = {'link': {
            'href': f'{collection_url}/{query_type}',
            'rel': 'data',
            'title': f'{query_type} query',
            'variables': variables,
        }}
    return queries


def kazarr_metadata(model: GridModel, ds_sizes: dict, ds_attrs: dict) -> dict:
    """What a Kazarr `/datasets/{id}/metadata` user relies on: dims, variables, attributes."""
    return {
        'dimensions': {str(k): int(v) for k, v in ds_sizes.items()},
        'variables': {name: {'dimensions': list(var.dims), 'dtype': var.dtype, 'attributes': _jsonable(var.attrs)}
                      for name, var in model.variables.items()},
        'attributes': _jsonable(ds_attrs),
        'axes': {'x': model.x, 'y': model.y, 't': model.t, 'z': model.z, 'custom': list(model.custom)},
        'crs': {'crs': crs_name(model.crs), 'found_in': model.crs_source},
    }


def collection_document(collection_url: str, model: GridModel, ds_sizes: dict) -> dict:
    """The parts of /collections/{id} we own; merged over pygeoapi's document."""
    return {
        'extent': extent(model),
        'crs': ['CRS84', CRS84] + ([storage_crs(model)] if model.projected else []),
        'storageCrs': storage_crs(model),
        'output_formats': list(FORMATS),
        'parameter_names': parameter_names(model),
        'data_queries': data_queries(collection_url, model),
        'kazarr:metadata': kazarr_metadata(model, ds_sizes, model.attrs),
    }


def _datetime(seconds: float) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=float(seconds))


def pygeoapi_resource(collection_id: str, data: str, model: GridModel, base: dict | None = None) -> dict:
    """A pygeoapi `resources` entry; explicit settings in `base` win over computed ones."""
    attrs = model.attrs
    resource = {
        'type': 'collection',
        'title': str(attrs.get('title') or collection_id),
        'description': str(attrs.get('description') or attrs.get('summary') or attrs.get('title')
                           or f'Zarr dataset {collection_id}'),
        'keywords': [str(k) for k in attrs.get('keywords', [])] if isinstance(attrs.get('keywords'), list)
        else [k.strip() for k in str(attrs.get('keywords', 'zarr')).split(',') if k.strip()],
        'extents': {'spatial': {'bbox': spatial_bbox(model), 'crs': CRS84}},
        'providers': [{'type': 'edr', 'name': PROVIDER, 'data': data}],
    }
    if model.t:
        resource['extents']['temporal'] = {'begin': _datetime(model.t_seconds.min()),
                                           'end': _datetime(model.t_seconds.max())}
    if base:
        merged = {**resource, **{k: v for k, v in base.items() if k != 'extents'}}
        merged['extents'] = {**resource['extents'], **base.get('extents', {})}
        return merged
    return resource
