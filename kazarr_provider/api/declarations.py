"""Every request parameter of every API, each work limit and each EDR query type, declared once.

`PARAMS` is one table keyed by API: `PARAMS['edr']` and `PARAMS['coverages']` map a parameter's name to
its `Param` (the Processes API joins with its own key). The key is needed because a name can mean
different things in two APIs (`bbox`, `datetime` and `crs` do in EDR and Coverages); a parameter declared
identically for two APIs is one `Param` listed in both. The EDR parsers (`params.py`, `edr/parse.py`)
take their accepted values, geometry types and limits from here, the Coverages grammar its axis names
(`AXIS_NAME`); the OpenAPI document (`openapi.py`) and each collection's `data_queries` (`collections.py`)
are generated from here. Tests hold each parser to what its API's table documents. The Coverages
vocabulary the parser and these declarations share (axis names and aliases, CRS spellings, scaling
styles) is in `coverages/declarations.py`.

Coverages sources: the draft OGC API – Coverages 1.0 (subsetting, scaling, CRS and field-selection
requirement classes), its legacy `scale-*` parameters, and what GDAL's OGCAPI driver and OWSLib 0.35 send.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..formats import DEFAULT_FORMAT, FORMATS
from .coverages.declarations import CRS84_URI

# metres per unit; the names EDR clients send for within-units / width-units
DISTANCE_UNITS = {'km': 1000.0, 'kilometers': 1000.0, 'kilometres': 1000.0, 'm': 1.0, 'meters': 1.0,
                  'metres': 1.0, 'mi': 1609.344, 'miles': 1609.344, 'nm': 1852.0, 'nmi': 1852.0, 'ft': 0.3048}
INTERPOLATION_METHODS = ('nearest', 'linear', 'cubic', 'idw', 'rbf')
TIME_INTERPOLATION_METHODS = ('nearest', 'linear')
NUMBER = r'[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?'
AXIS_NAME = r'[A-Za-z_][^\s(),:"]*'         # a Coverages axis name, as in subset=Lat(40:45)


@dataclass(frozen=True)
class Param:
    """One request parameter: how it is documented and what a collection must have for it to apply."""

    name: str
    description: str
    example: str
    pattern: str | None = None               # a regular expression every accepted value matches
    enum: tuple[str, ...] | None = None      # the accepted values, when they are a closed list
    needs: str | None = None                 # 't', 'z' or 'levels': offered only on collections that have it
    header: bool = False                     # a request header (OpenAPI `in: header`), not a query parameter

    def schema(self) -> dict:
        schema = {'type': 'string', 'minLength': 1, 'example': self.example}
        if self.enum:
            schema['enum'] = list(self.enum)
        elif self.pattern:
            schema['pattern'] = self.pattern
        return schema


@dataclass(frozen=True)
class Limit:
    """A bound on the work one request may ask for, refused with 413 before any work is done."""

    name: str
    value: int
    description: str


LIMITS = {limit.name: limit for limit in (
    Limit('max-vertices', 10_000, 'vertices in one coords geometry (all rings and parts together)'),
    Limit('max-points', 10_000, 'points of one MULTIPOINT (position) or centres of one radius query'),
    Limit('max-corridor-area-km2', 50_000_000, 'corridor path length x corridor-width, in km2'),
)}

# ---- EDR ------------------------------------------------------------------------------------------
_DISTANCE = f'^{NUMBER}$'
_LEVELS = rf'^(R\d+/{NUMBER}/{NUMBER}|{NUMBER}/{NUMBER}|{NUMBER}(,{NUMBER})*)$'
_EDR = (
    Param('coords', 'WKT geometry in CRS84 (lon lat)', 'POINT(10 45)', pattern=r'^\s*[A-Za-z]'),
    Param('bbox', 'west,south,east,north or west,south,zmin,east,north,zmax (CRS84); west > east crosses the '
          'antimeridian', '-10,35,20,50', pattern=rf'^{NUMBER}(,{NUMBER}){{3}}(,{NUMBER},{NUMBER})?$'),
    Param('within', 'radius around each centre (a positive number, in within-units)', '25', pattern=_DISTANCE),
    Param('within-units', 'unit of within', 'km', enum=tuple(DISTANCE_UNITS)),
    Param('corridor-width', 'full width of the corridor (in width-units)', '50', pattern=_DISTANCE),
    Param('width-units', 'unit of corridor-width', 'km', enum=tuple(DISTANCE_UNITS)),
    Param('corridor-height', 'full height of the corridor, in the vertical axis\' units', '100',
          pattern=_DISTANCE, needs='z'),
    Param('height-units', 'unit of corridor-height: the vertical axis\' units (see extent.vertical)', 'hPa',
          needs='z'),
    Param('resolution-x', 'positions wanted across the region in x (multiscale collections pick a level)', '100',
          pattern=r'^\d+$', needs='levels'),
    Param('resolution-y', 'positions wanted across the region in y (multiscale collections pick a level)', '100',
          pattern=r'^\d+$', needs='levels'),
    Param('resolution-limit', 'at most this many cells per axis (multiscale collections pick a level)', '256',
          pattern=r'^\d+$', needs='levels'),
    Param('datetime', 'instant, start/end, ../end or start/.. (RFC 3339); an instant answers the nearest step',
          '2024-07-01T00:00:00Z', needs='t'),
    Param('z', 'level (850), interval (100/550), list (10,80,200) or recurrence (R5/1000/-100)', '850',
          pattern=_LEVELS, needs='z'),
    Param('parameter-name', 'comma-separated parameter ids (see parameter_names); all when absent', 'sst'),
    Param('crs', 'CRS84 (default) or the collection\'s storage CRS (see crs / storageCrs)', 'CRS84'),
    Param('time-interpolation', 'nearest (default) or linear: the value at exactly the requested instant',
          'linear', enum=TIME_INTERPOLATION_METHODS, needs='t'),
    Param('interpolation', 'spatial interpolation of point samples; nearest by default', 'idw',
          enum=INTERPOLATION_METHODS),
    Param('interpolation-params', 'key:value,... e.g. power:2,radius:300 (idw) or '
          'kernel:thin_plate_spline,neighbors:16 (rbf)', 'power:2', pattern=r'^[a-z_]+:[^,]+(,[a-z_]+:[^,]+)*$'),
    Param('f', 'output format (or use Accept)', DEFAULT_FORMAT, enum=tuple(FORMATS)),
)

# ---- OGC API – Coverages ---------------------------------------------------------------------------
_AXIS = rf'\s*{AXIS_NAME}\s*'
_VALUE = r'\s*("[^"]*"|[^\s(),:"][^(),:"]*)\s*'            # a number, "text", *, or an unquoted instant
_SUBSET_ITEM = rf'{_AXIS}\({_VALUE}(:{_VALUE}|(,{_VALUE})*)\)'
_SUBSET = rf'^{_SUBSET_ITEM}(,{_SUBSET_ITEM})*$'
_NUM = rf'\s*{NUMBER}\s*'
_AXIS_NUMBERS = rf'^{_AXIS}\({_NUM}\)(,{_AXIS}\({_NUM}\))*$'
_AXIS_SIZES = rf'^{_AXIS}\(\s*\d+\s*\)(,{_AXIS}\(\s*\d+\s*\))*$'
_AXIS_RESOLUTIONS = rf'^{_AXIS}\(({_NUM})?\)(,{_AXIS}\(({_NUM})?\))*$'
_FIELDS = r'^[^,]+(,[^,]+)*$'
_CRS = f'a URI ({CRS84_URI}) or CURIE ([EPSG:4326], EPSG:4326)'

_COVERAGES = (
    Param('subset', 'axis(lo:hi) trims, axis(value) slices (drops the axis), axis(v1,v2,...) multi-slices; * '
          'is an open end and time(*) the latest step; text values and instants in double quotes. Several axes '
          'comma-separated in one value or in repeated subset parameters. Axes: Lon/Lat (geographic '
          'coordinates, CRS84 unless subset-crs says EPSG:4326), E/N on projected grids (storage CRS unless '
          'subset-crs says EPSG:3857), time, and every other dimension by its extent key; Lon lo > hi crosses '
          'the antimeridian', 'Lon(10:20),Lat(40:45)', pattern=_SUBSET),
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
    Param('Prefer', 'handling=lenient (default): a coverage over the size limit is downsampled and says so; '
          'handling=strict: 413 instead, and no downsampling of axes left at native resolution (RFC 7240)',
          'handling=strict', header=True),
)

PARAMS: dict[str, dict[str, Param]] = {api: {param.name: param for param in params}
                                        for api, params in (('edr', _EDR), ('coverages', _COVERAGES))}


@dataclass(frozen=True)
class QueryType:
    """One EDR query: its geometry, the parameters it reads (in the order clients show them), which are required."""

    name: str
    summary: str
    parameters: tuple[str, ...]
    required: tuple[str, ...]
    geometries: tuple[str, ...] = ()        # WKT types coords takes
    geometry_text: str = ''
    example: str = ''                       # a coords value
    point_samples: bool = False             # answers values at points (interpolation applies)

    def coords(self) -> Param:
        return Param('coords', f'WKT in CRS84 (lon lat): {self.geometry_text}', self.example,
                     pattern=rf'^\s*({"|".join(g.upper() for g in self.geometries)})\b')

    def declared(self) -> list[Param]:
        return [self.coords() if name == 'coords' else PARAMS['edr'][name] for name in self.parameters]


_COMMON = ('datetime', 'z', 'parameter-name', 'crs', 'time-interpolation')
_INTERPOLATION = ('interpolation', 'interpolation-params')
_RESOLUTION = ('resolution-x', 'resolution-y', 'resolution-limit')
QUERY_TYPES = {query.name: query for query in (
    QueryType('position', 'values at points', ('coords',) + _COMMON + _INTERPOLATION, ('coords',),
              ('Point', 'MultiPoint'), 'POINT(lon lat) or MULTIPOINT((lon lat),...)', 'POINT(10 45)',
              point_samples=True),
    QueryType('radius', 'cells within a distance of each centre (or the value at the centre, interpolated)',
              ('coords', 'within', 'within-units') + _COMMON + _INTERPOLATION, ('coords', 'within', 'within-units'),
              ('Point', 'MultiPoint'), 'POINT(lon lat) or MULTIPOINT((lon lat),...): the centres', 'POINT(10 45)',
              point_samples=True),
    QueryType('area', 'cells inside a polygon', ('coords',) + _RESOLUTION + _COMMON, ('coords',),
              ('Polygon', 'MultiPolygon'), 'POLYGON((...)) or MULTIPOLYGON(((...)))',
              'POLYGON((0 40,10 40,10 50,0 50,0 40))'),
    QueryType('cube', 'cells inside a bounding box', ('bbox',) + _RESOLUTION + _COMMON, ('bbox',)),
    QueryType('trajectory', 'values along a path', ('coords',) + _COMMON + _INTERPOLATION, ('coords',),
              ('LineString',), 'LINESTRING, LINESTRING Z, LINESTRING M or LINESTRING ZM (M = Unix epoch seconds)',
              'LINESTRING(0 40,5 42,10 45)', point_samples=True),
    QueryType('corridor', 'cells within a distance of a path',
              ('coords', 'corridor-width', 'width-units', 'corridor-height', 'height-units') + _COMMON,
              ('coords', 'corridor-width', 'width-units'), ('LineString',), 'LINESTRING: the corridor\'s centre line',
              'LINESTRING(0 40,5 42,10 45)'),
)}
POINT_SAMPLES = tuple(name for name, query in QUERY_TYPES.items() if query.point_samples)
