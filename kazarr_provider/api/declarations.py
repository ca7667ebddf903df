"""Every request parameter, work limit and EDR query type, declared once.

The parsers (`params.py`) take their accepted values, geometry types and limits from here; the OpenAPI
document (`openapi.py`) and each collection's `data_queries` (`collections.py`) are generated from here.
A test holds the parser to what this table documents. Coverages and Processes parameters join it.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..formats import DEFAULT_FORMAT, FORMATS

# metres per unit; the names EDR clients send for within-units / width-units
DISTANCE_UNITS = {'km': 1000.0, 'kilometers': 1000.0, 'kilometres': 1000.0, 'm': 1.0, 'meters': 1.0,
                  'metres': 1.0, 'mi': 1609.344, 'miles': 1609.344, 'nm': 1852.0, 'nmi': 1852.0, 'ft': 0.3048}
INTERPOLATION_METHODS = ('nearest', 'linear', 'cubic', 'idw', 'rbf')
TIME_INTERPOLATION_METHODS = ('nearest', 'linear')
NUMBER = r'[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?'


@dataclass(frozen=True)
class Param:
    """One request parameter: how it is documented and what a collection must have for it to apply."""

    name: str
    description: str
    example: str
    pattern: str | None = None               # a regular expression every accepted value matches
    enum: tuple[str, ...] | None = None      # the accepted values, when they are a closed list
    needs: str | None = None                 # 't', 'z' or 'levels': offered only on collections that have it

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

_DISTANCE = f'^{NUMBER}$'
_LEVELS = rf'^(R\d+/{NUMBER}/{NUMBER}|{NUMBER}/{NUMBER}|{NUMBER}(,{NUMBER})*)$'
PARAMS = {param.name: param for param in (
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
)}


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
        return [self.coords() if name == 'coords' else PARAMS[name] for name in self.parameters]


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
