"""What OGC API – Coverages clients read about a gridded collection: the coverage links, the grid of its extent,
the JSON Schema of its fields, and the legacy CIS JSON domain set and range type that GDAL's OGCAPI driver reads.

GDAL labels every coverage EPSG:4326 (lon/lat) and sizes its raster from the domain set, so the domain set and
the link GDAL follows describe the lon/lat grid (`crs=CRS84` in its href) on projected collections too.
"""
from __future__ import annotations

import numpy as np

from ...core.model import GridModel
from ..collections import CRS84, spatial_bbox, storage_crs

COVERAGE_REL = 'http://www.opengis.net/def/rel/ogc/1.0/coverage'
DOMAINSET_REL = 'http://www.opengis.net/def/rel/ogc/1.0/coverage-domainset'
RANGETYPE_REL = 'http://www.opengis.net/def/rel/ogc/1.0/coverage-rangetype'
SCHEMA_REL = 'http://www.opengis.net/def/rel/ogc/1.0/schema'
GEOTIFF = 'image/tiff; application=geotiff'
# numpy dtype -> the short ogcType names GDAL parses (the URI form is not parsed)
OGC_TYPES = {'float32': 'float32', 'float64': 'float64', 'int8': 'signedByte', 'uint8': 'unsignedByte',
             'int16': 'signedShort', 'uint16': 'unsignedShort', 'int32': 'signedInt', 'uint32': 'unsignedInt',
             'int64': 'signedLong', 'uint64': 'unsignedLong'}


def offers_coverage(model: GridModel) -> bool:
    """Every grid answers as a coverage; unstructured meshes do not."""
    return model.mesh is None


def coverage_links(collection_url: str, model: GridModel) -> list[dict]:
    """GeoTIFF first (GDAL takes the first coverage link), then the schema and the legacy domain/range."""
    lonlat = f'&crs={CRS84}' if model.projected or model.curvilinear is not None else ''
    return [
        {'rel': COVERAGE_REL, 'type': GEOTIFF, 'title': 'Coverage as GeoTIFF (lon/lat)',
         'href': f'{collection_url}/coverage?f=GeoTIFF{lonlat}'},
        {'rel': COVERAGE_REL, 'type': 'application/x-netcdf', 'title': 'Coverage as NetCDF',
         'href': f'{collection_url}/coverage?f=NetCDF'},
        {'rel': COVERAGE_REL, 'type': 'application/vnd.cov+json', 'title': 'Coverage as CoverageJSON',
         'href': f'{collection_url}/coverage?f=CoverageJSON'},
        {'rel': DOMAINSET_REL, 'type': 'application/json', 'title': 'Domain set (CIS JSON)',
         'href': f'{collection_url}/coverage/domainset?f=json'},
        {'rel': RANGETYPE_REL, 'type': 'application/json', 'title': 'Range type (CIS JSON)',
         'href': f'{collection_url}/coverage/rangetype?f=json'},
        {'rel': SCHEMA_REL, 'type': 'application/schema+json', 'title': 'Fields (JSON Schema)',
         'href': f'{collection_url}/schema'},
    ]


def lonlat_grid(model: GridModel) -> tuple[list[float], int, int]:
    """([west, south, east, north], width, height) of the lon/lat grid a client sees by default.

    On lon/lat grids: the cell edges and cell counts. Elsewhere: the CRS84 footprint, with about as many
    cells as the grid has along each direction.
    """
    west, south, east, north = spatial_bbox(model)
    if east < west:
        east += 360.0
    if model.regular_lonlat:
        if model.x_axis.is_global:
            west, east = float(model.x_axis.edges[0]), float(model.x_axis.edges[-1])
            if west >= 180.0:
                west, east = west - 360.0, east - 360.0
        return [west, south, east, north], model.x_axis.size, model.y_axis.size
    ny, nx = (model.curvilinear.shape if model.curvilinear is not None else (model.y_axis.size, model.x_axis.size))
    return [west, south, east, north], int(nx), int(ny)


def domainset(model: GridModel) -> dict:
    """The CIS JSON domain set of the default lon/lat grid (horizontal axes first, Lon then Lat)."""
    (west, south, east, north), width, height = lonlat_grid(model)
    axes = [{'type': 'RegularAxis', 'axisLabel': 'Lon', 'lowerBound': west, 'upperBound': east,
             'resolution': (east - west) / width, 'uomLabel': 'deg'},
            {'type': 'RegularAxis', 'axisLabel': 'Lat', 'lowerBound': south, 'upperBound': north,
             'resolution': -(north - south) / height, 'uomLabel': 'deg'}]
    labels = ['Lon', 'Lat']
    if model.t is not None:
        from ...core.times import iso
        seconds = np.sort(model.t_seconds)
        labels.append('time')
        axes.append({'type': 'IrregularAxis', 'axisLabel': 'time', 'uomLabel': 's',
                     'coordinate': iso(seconds[[0, -1]] if seconds.size > 1000 else seconds, model.calendar)})
    return {'type': 'DomainSet', 'generalGrid': {'type': 'GeneralGridCoverage', 'srsName': CRS84,
                                                 'axisLabels': labels, 'axis': axes,
                                                 'gridLimits': _limits(width, height)}}


def _limits(width: int, height: int) -> dict:
    return {'type': 'GridLimits', 'srsName': 'http://www.opengis.net/def/crs/OGC/0/Index2D',
            'axisLabels': ['i', 'j'],
            'axis': [{'type': 'IndexAxis', 'axisLabel': 'i', 'lowerBound': 0, 'upperBound': width - 1},
                     {'type': 'IndexAxis', 'axisLabel': 'j', 'lowerBound': 0, 'upperBound': height - 1}]}


def _ogc_type(model: GridModel, name: str) -> str:
    dtype = str(np.dtype(model.variables[name].dtype))
    # packed integers are served unpacked (floats), as xarray decodes them
    attrs = model.variables[name].attrs
    if 'scale_factor' in attrs or 'add_offset' in attrs:
        return 'float64'
    return OGC_TYPES.get(dtype, 'float64')


def rangetype(model: GridModel) -> dict:
    """The CIS JSON range type: one Quantity per field, in order, with its short ogcType."""
    fields = []
    for name, variable in model.variables.items():
        field = {'type': 'Quantity', 'name': name, 'definition': f'ogcType:{_ogc_type(model, name)}'}
        if variable.attrs.get('units'):
            field['uom'] = {'type': 'UnitReference', 'code': str(variable.attrs['units'])}
        fields.append(field)
    return {'type': 'DataRecord', 'field': fields}


def schema(model: GridModel, collection_url: str) -> dict:
    """The JSON Schema of the fields (OGC API – Common Part 2 / Coverages)."""
    properties = {}
    for position, (name, variable) in enumerate(model.variables.items(), start=1):
        attrs = variable.attrs
        entry = {'title': str(attrs.get('long_name') or name), 'type': 'number', 'x-ogc-propertySeq': position}
        if attrs.get('units'):
            entry['x-ogc-unit'] = str(attrs['units'])
        if attrs.get('standard_name'):
            entry['x-ogc-definition'] = f'http://vocab.nerc.ac.uk/standard_name/{attrs["standard_name"]}/'
        nulls = [float(attrs[k]) for k in ('_FillValue', 'missing_value') if _number(attrs.get(k))]
        entry['x-ogc-nullValues'] = [None] + sorted(set(nulls))
        properties[name] = entry
    return {'$schema': 'https://json-schema.org/draft/2020-12/schema', '$id': f'{collection_url}/schema',
            'title': f'Fields of {collection_url.rsplit("/", 1)[-1]}', 'type': 'object', 'properties': properties}


def _number(value) -> bool:
    try:
        return value is not None and np.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def grid_extent(model: GridModel) -> dict:
    """`extent.spatial.grid` (storage CRS) and, on projected grids, `storageCrsBbox`."""
    out = {}
    if model.curvilinear is not None:
        ny, nx = model.curvilinear.shape
        out['grid'] = [{'cellsCount': int(nx)}, {'cellsCount': int(ny)}]
        return out
    axes = []
    for axis, values in ((model.x_axis, model.x_values), (model.y_axis, model.y_values)):
        step = np.diff(values)
        if values.size > 1 and np.allclose(step, step[0], rtol=1e-6):
            axes.append({'cellsCount': int(values.size), 'firstCoordinate': float(values[0]),
                         'resolution': float(step[0])})
        else:
            axes.append({'cellsCount': int(values.size), 'coordinates': [float(v) for v in values]})
    out['grid'] = axes
    if model.projected:
        xe, ye = model.x_axis.edges, model.y_axis.edges
        out['storageCrsBbox'] = [[float(xe[0]), float(ye[0]), float(xe[-1]), float(ye[-1])]]
        out['storageCrs'] = storage_crs(model)
    return out


def dimension_extents(model: GridModel) -> dict:
    """`extent.temporal.grid` and one extent key per other dimension, named like its `subset` axis (its own
    dimension name), with `interval`, `unit` and `grid` (the Coverages draft's additional dimensions)."""
    from ...core.times import iso
    out: dict = {}
    if model.t is not None:
        seconds = np.sort(model.t_seconds)
        steps = np.diff(seconds)
        if seconds.size > 1 and np.all(steps == steps[0]):
            grid = {'cellsCount': int(seconds.size), 'firstCoordinate': iso(seconds[:1], model.calendar)[0],
                    'resolution': f'PT{int(steps[0])}S'}
        else:
            grid = {'cellsCount': int(seconds.size)}
            if seconds.size <= 1000:
                grid['coordinates'] = iso(seconds, model.calendar)
        out['temporal'] = {'grid': grid}
    if model.z is not None:
        levels = [float(v) for v in model.z_values]
        out[model.z] = {'interval': [[min(levels), max(levels)]], 'unit': str(model.z_attrs.get('units', '')),
                        'definition': str(model.z_attrs.get('standard_name') or model.z_attrs.get('long_name')
                                          or model.z),
                        'grid': {'cellsCount': len(levels), 'coordinates': levels}}
    for dim, axis in model.custom.items():
        values = axis.values.tolist()
        entry = {'grid': {'cellsCount': len(values), 'coordinates': values},
                 'definition': str(axis.attrs.get('long_name', dim))}
        if axis.numeric is not None:
            entry['interval'] = [[min(values), max(values)]]
        out[dim] = entry
    return out
