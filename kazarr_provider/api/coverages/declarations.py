"""The OGC API – Coverages request parameters and axis names, declared once.

Same style as `api/declarations.py` (whose `Param` this uses; the two tables are meant to be merged,
keyed by API: `bbox`, `datetime` and `crs` mean something else here than in EDR). The parser
(`coverages/params.py`) takes its axis names, scaling styles and CRS spellings from here, and the
OpenAPI document and collection documents are to be generated from here.

Sources: the draft OGC API – Coverages 1.0 (subsetting, scaling, CRS and field-selection requirement
classes, the spatial and temporal alias recommendations), its legacy `scale-*` parameters, and what
GDAL's OGCAPI driver and OWSLib 0.35 send.
"""
from __future__ import annotations

from ..declarations import NUMBER, Param

# ---- axis names -------------------------------------------------------------------------------------
# prescribed name -> aliases. The draft recommends these aliases (lowercase/capitalised variants);
# a dimension's own name always wins over an alias of another axis.
GEOGRAPHIC_AXES = {       # x, y of a geographic subset / output CRS (CRS84, EPSG:4326)
    'Lon': ('lon', 'Long', 'long', 'Longitude', 'longitude'),
    'Lat': ('lat', 'Latitude', 'latitude'),
}
PROJECTED_AXES = {        # x, y of a projected subset / output CRS (the storage CRS, EPSG:3857)
    'E': ('e', 'x', 'X', 'Easting', 'easting'),
    'N': ('n', 'y', 'Y', 'Northing', 'northing'),
}
AXIS_ROLES = {'Lon': 'x', 'Lat': 'y', 'E': 'x', 'N': 'y'}
TIME_AXIS = 'time'
TIME_ALIASES = ('t', 'T', 'Time', 'TIME')
# The vertical axis (pressure, depth, model level) is named by its own dimension name, like the
# extent key of the collection document; `z`/`Z` are aliases of it (EDR's parameter name). The draft's
# `h` means height above the ellipsoid (CRS84h), which a pressure or depth axis is not: not an alias.
VERTICAL_ALIASES = ('z', 'Z')

# ---- CRSs -------------------------------------------------------------------------------------------
CRS84_URI = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'
EPSG_URI = 'http://www.opengis.net/def/crs/EPSG/0/{code}'
# spellings of CRS84 taken without asking pyproj (compared lower-case, safe-CURIE brackets removed)
CRS84_NAMES = ('crs84', 'ogc:crs84', 'crs:84', CRS84_URI.lower(), CRS84_URI.lower().replace('http:', 'https:'),
               'urn:ogc:def:crs:ogc:1.3:crs84', 'urn:ogc:def:crs:ogc::crs84')
# CRSs offered besides CRS84 and the collection's storage CRS: for `crs` output, and for `subset-crs`
# and `bbox-crs` too (the draft: they take whatever `crs` takes). EPSG:4326 is latitude-first.
EXTRA_CRS = ('EPSG:4326', 'EPSG:3857')

# ---- scaling ----------------------------------------------------------------------------------------
# style -> its parameters; one style per request (two -> 400 naming the second one given).
SCALING_STYLES = {
    'resolution': ('resolution',),         # cell size per axis in output CRS units; empty = native
    'size': ('width', 'height'),            # exact cell counts along x / y
    'scale-size': ('scale-size',),          # legacy: cells per axis
    'scaleSize': ('scaleSize',),            # GDAL's OGCAPI driver (WCS spelling)
    'scale-factor': ('scale-factor',),      # legacy: one factor for every spatial axis (2 = half the cells)
    'scaleFactor': ('scaleFactor',),        # WCS spelling
    'scale-axes': ('scale-axes',),          # legacy: factor per axis
    'scaleAxes': ('scaleAxes',),            # WCS spelling
}
SCALING_PARAMETERS = tuple(p for params in SCALING_STYLES.values() for p in params)

# ---- patterns ---------------------------------------------------------------------------------------
_AXIS = r'\s*[A-Za-z_][^\s(),:"]*\s*'
_VALUE = r'\s*("[^"]*"|[^\s(),:"][^(),:"]*)\s*'            # a number, "text", *, or an unquoted instant
_SUBSET_ITEM = rf'{_AXIS}\({_VALUE}(:{_VALUE}|(,{_VALUE})*)\)'
SUBSET_PATTERN = rf'^{_SUBSET_ITEM}(,{_SUBSET_ITEM})*$'
_NUM = rf'\s*{NUMBER}\s*'
_AXIS_NUMBERS = rf'^{_AXIS}\({_NUM}\)(,{_AXIS}\({_NUM}\))*$'
_AXIS_SIZES = rf'^{_AXIS}\(\s*\d+\s*\)(,{_AXIS}\(\s*\d+\s*\))*$'
_AXIS_RESOLUTIONS = rf'^{_AXIS}\(({_NUM})?\)(,{_AXIS}\(({_NUM})?\))*$'
_FIELDS = r'^[^,]+(,[^,]+)*$'
_CRS = 'a URI (http://www.opengis.net/def/crs/OGC/1.3/CRS84) or CURIE ([EPSG:4326], EPSG:4326)'

COVERAGE_PARAMS = {param.name: param for param in (
    Param('subset', 'axis(lo:hi) trims, axis(value) slices (drops the axis), axis(v1,v2,...) multi-slices; * '
          'is an open end and time(*) the latest step; text values and instants in double quotes. Several axes '
          'comma-separated in one value or in repeated subset parameters. Axes: Lon/Lat (geographic '
          'coordinates, CRS84 unless subset-crs says EPSG:4326), E/N on projected grids (storage CRS unless '
          'subset-crs says EPSG:3857), time, and every other dimension by its extent key; Lon lo > hi crosses '
          'the antimeridian', 'Lon(10:20),Lat(40:45)', pattern=SUBSET_PATTERN),
    Param('subset-crs', f'CRS of the spatial subset coordinates, {_CRS}: CRS84 (default for Lon/Lat), '
          'EPSG:4326, EPSG:3857 or the storage CRS (default for E/N). Ignored when no subset names one of '
          'its axes', CRS84_URI),
    Param('bbox', 'four numbers in bbox-crs axis order: CRS84 (default) west,south,east,north (west > east '
          'crosses the antimeridian); EPSG:4326 south,west,north,east; a projected CRS minx,miny,maxx,maxy',
          '10,40,20,45', pattern=rf'^{_NUM}(,{_NUM}){{3}}$'),
    Param('bbox-crs', f'CRS of bbox, {_CRS}: CRS84 (default), EPSG:4326, EPSG:3857 or the storage CRS',
          CRS84_URI),
    Param('datetime', 'instant (slices) or start/end (trims), .. or empty for an open end; RFC 3339 with '
          'trailing components optional (2024-07, 2024-07-01T06) and hour 24: an end covers its last '
          'component (../2024-07-01 ends at 23:59:59.999999)', '2024-07-01T00:00:00Z', needs='t'),
    Param('properties', 'comma-separated field names, in answer (band) order; all fields when absent',
          'sst', pattern=_FIELDS),
    Param('exclude-properties', 'comma-separated field names to leave out (not with properties)', 'sst',
          pattern=_FIELDS),
    Param('crs', f'output CRS, {_CRS}: the storage CRS (default), CRS84, EPSG:4326 or EPSG:3857', CRS84_URI),
    Param('resolution', 'cell size per spatial axis in output CRS units (Lat/Lon in degrees for a geographic '
          'output CRS, E/N for a projected one); Lat() or an empty value asks the native resolution',
          'Lat(0.5),Lon(0.5)', pattern=_AXIS_RESOLUTIONS),
    Param('width', 'exact number of cells along x (longitude or easting)', '512', pattern=r'^\s*[1-9]\d*\s*$'),
    Param('height', 'exact number of cells along y (latitude or northing)', '256', pattern=r'^\s*[1-9]\d*\s*$'),
    Param('scale-size', 'legacy: exact number of cells per spatial axis', 'Lat(300),Lon(400)',
          pattern=_AXIS_SIZES),
    Param('scaleSize', 'as scale-size (the spelling GDAL sends)', 'Lon(256),Lat(256)', pattern=_AXIS_SIZES),
    Param('scale-factor', 'legacy: divide the number of cells along every spatial axis by this (2 = half)',
          '2', pattern=rf'^{_NUM}$'),
    Param('scaleFactor', 'as scale-factor (WCS spelling)', '2', pattern=rf'^{_NUM}$'),
    Param('scale-axes', 'legacy: divide the number of cells along each named spatial axis by its factor',
          'Lat(2),Lon(2)', pattern=_AXIS_NUMBERS),
    Param('scaleAxes', 'as scale-axes (WCS spelling)', 'Lat(2),Lon(2)', pattern=_AXIS_NUMBERS),
)}

# request headers read by the parser (OpenAPI `in: header`)
COVERAGE_HEADERS = {param.name: param for param in (
    Param('Prefer', 'handling=lenient (default): a coverage over the size limit is downsampled and says so; '
          'handling=strict: 413 instead, and no downsampling of axes left at native resolution (RFC 7240)',
          'handling=strict'),
)}
