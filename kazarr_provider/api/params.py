"""The shared parameter parsers: one function per parameter, a raw string in, a value or a 4xx naming it out.

Which parameters a query takes, their accepted values and the work limits are declared in
`declarations.py` (`QUERY_TYPES`, `PARAMS['edr']`, `LIMITS`); `edr/parse.py` combines these parsers into one
EDR request.
"""
from __future__ import annotations

import math
import re

import numpy as np
import shapely
import shapely.wkt
from shapely.errors import ShapelyError

from ..core.crs import crs_uri, same_crs
from ..core.model import GridModel
from ..core.query import AxisRequest, Interpolation
from ..core.times import NotInCalendar, parse_instant
from ..errors import InvalidParameter, MissingParameter, TooLarge
from .declarations import DISTANCE_UNITS, LIMITS, POINT_SAMPLES, QUERY_TYPES

RBF_KERNELS = ('thin_plate_spline', 'linear', 'cubic', 'quintic', 'multiquadric', 'inverse_multiquadric',
               'inverse_quadratic', 'gaussian')
INTERPOLATION_PARAMS = {
    'nearest': {}, 'linear': {}, 'cubic': {},
    'idw': {'radius': float, 'power': float},
    'rbf': {'kernel': str, 'neighbors': int, 'smoothing': float, 'epsilon': float},
}
# scipy's RBFInterpolator adds a polynomial of degree 1 (2 for quintic): a 2-D fit needs that many points
RBF_MIN_NEIGHBORS = {'thin_plate_spline': 3, 'cubic': 3, 'quintic': 6}
SCALED_KERNELS = ('multiquadric', 'inverse_multiquadric', 'inverse_quadratic', 'gaussian')
MIN_EPOCH, MAX_EPOCH = -62135596800, 253402300799     # 0001-01-01 .. 9999-12-31T23:59:59 (RFC 3339's range)
RECURRING = re.compile(r'^R(\d+)/([^/]+)/([^/]+)$', re.IGNORECASE)


def number(text: str, parameter: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidParameter(f'{parameter}: {text!r} is not a number', parameter) from None
    if not math.isfinite(value):
        raise InvalidParameter(f'{parameter}: {text!r} is not a finite number', parameter)
    return value


def parse_datetime(text: str | None, calendar: str | None = None) -> AxisRequest:
    """`instant`, `a/b`, `../b`, `a/..` (RFC 3339)."""
    if text is None or text.strip() == '':
        return AxisRequest()
    expected = ("expected an RFC 3339 instant (2024-01-01T06:00:00Z) or an interval "
                "'start/end' with '..' for an open end")
    try:
        if '/' in text:
            parts = text.split('/')
            if len(parts) != 2:
                raise ValueError
            lo = None if parts[0].strip() in ('..', '') else parse_instant(parts[0], calendar)
            hi = None if parts[1].strip() in ('..', '') else parse_instant(parts[1], calendar)
            if lo is None and hi is None:
                raise ValueError
            if lo is not None and hi is not None and lo > hi:
                raise InvalidParameter(f'datetime: {text!r} ends before it starts', 'datetime')
            return AxisRequest(interval=(lo, hi), text=text)
        return AxisRequest(values=np.array([parse_instant(text, calendar)]), text=text)
    except NotInCalendar as error:
        raise InvalidParameter(f'datetime: {error}', 'datetime') from None
    except ValueError:
        raise InvalidParameter(f'datetime: {text!r} is malformed; {expected}', 'datetime') from None


def parse_levels(text: str | None, parameter: str = 'z') -> AxisRequest:
    """`850`, `100/550`, `10,80,200`, `R5/1000/-100` (count/start/step)."""
    if text is None or text.strip() == '':
        return AxisRequest()
    text = text.strip()
    recurring = RECURRING.match(text)
    if recurring:
        count = int(recurring.group(1))
        if count < 1 or count > 10000:
            raise InvalidParameter(f'{parameter}: recurrence count must be 1..10000', parameter)
        start = number(recurring.group(2), parameter)
        step = number(recurring.group(3), parameter)
        return AxisRequest(values=start + step * np.arange(count), text=text)
    if '/' in text:
        parts = text.split('/')
        if len(parts) != 2:
            raise InvalidParameter(f"{parameter}: {text!r} is malformed; expected 'min/max'", parameter)
        lo, hi = (number(p, parameter) for p in parts)
        return AxisRequest(interval=(min(lo, hi), max(lo, hi)), text=text)
    values = [number(p, parameter) for p in text.split(',')]
    return AxisRequest(values=np.array(values), text=text)


def parse_bbox(text: str | None) -> tuple[tuple[float, float, float, float], AxisRequest]:
    """4 numbers (west,south,east,north) or 6 (west,south,zmin,east,north,zmax)."""
    if text is None or text.strip() == '':
        raise MissingParameter('bbox: required by cube queries, '
                               'e.g. bbox=-10,40,5,50 (west,south,east,north)', 'bbox')
    parts = [p for p in text.split(',')]
    if len(parts) not in (4, 6):
        raise InvalidParameter(f'bbox: expected 4 or 6 comma-separated numbers, got {len(parts)}', 'bbox')
    nums = [number(p, 'bbox') for p in parts]
    z = AxisRequest()
    if len(nums) == 6:
        west, south, zmin, east, north, zmax = nums
        z = AxisRequest(interval=(min(zmin, zmax), max(zmin, zmax)), text=text)
    else:
        west, south, east, north = nums
    if not (-90 <= south <= 90 and -90 <= north <= 90):
        raise InvalidParameter('bbox: latitudes must lie in [-90, 90]', 'bbox')
    if south > north:
        raise InvalidParameter('bbox: south is greater than north', 'bbox')
    if not (-360 <= west <= 360 and -360 <= east <= 360):
        raise InvalidParameter('bbox: longitudes must lie in [-360, 360]', 'bbox')
    return (west, south, east, north), z


def parse_coords(text: str | None, query_type: str):
    """WKT geometry of a type the query takes."""
    allowed = QUERY_TYPES[query_type].geometries
    example = QUERY_TYPES[query_type].example
    if text is None or text.strip() == '':
        raise MissingParameter(f'coords: required by {query_type} queries, e.g. coords={example}', 'coords')
    try:
        geometry = shapely.wkt.loads(text)
    except (ShapelyError, ValueError, TypeError):
        raise InvalidParameter(f'coords: {text[:200]!r} is not valid WKT; expected e.g. {example}',
                               'coords') from None
    if geometry.geom_type not in allowed:
        raise InvalidParameter(f'coords: {query_type} takes {" or ".join(a.upper() for a in allowed)}, '
                               f'got {geometry.geom_type.upper()}', 'coords')
    if geometry.has_z and query_type not in ('trajectory', 'corridor'):
        # a Z in coords would otherwise be dropped without a word: z has its own parameter here
        raise InvalidParameter(f'coords: give {query_type} coordinates as lon lat; use the z parameter '
                               'for the vertical', 'coords')
    if geometry.is_empty:
        raise InvalidParameter(f'coords: the {geometry.geom_type.upper()} is empty', 'coords')
    has_m = getattr(geometry, 'has_m', False)
    every = shapely.get_coordinates(geometry, include_z=geometry.has_z, include_m=has_m)
    check_work(geometry, every.shape[0], query_type)
    if not np.all(np.isfinite(every)):
        raise InvalidParameter('coords: coordinates must be finite numbers', 'coords')
    xy = every[:, :2]
    if np.any(np.abs(xy[:, 1]) > 90):
        raise InvalidParameter('coords: latitudes must lie in [-90, 90] (coordinates are lon lat, CRS84)',
                               'coords')
    if np.any(np.abs(xy[:, 0]) > 360):
        raise InvalidParameter('coords: longitudes must lie in [-360, 360] (coordinates are lon lat, CRS84)',
                               'coords')
    if has_m and np.any((every[:, -1] < MIN_EPOCH) | (every[:, -1] > MAX_EPOCH)):
        raise InvalidParameter('coords: M is a time in Unix epoch seconds, within years 0001..9999 '
                               f'({MIN_EPOCH}..{MAX_EPOCH})', 'coords')
    if has_m and query_type != 'trajectory':
        raise InvalidParameter('coords: M values are only meaningful on trajectory queries', 'coords')
    if query_type == 'area' and not geometry.is_valid:
        raise InvalidParameter('coords: the polygon is invalid (self-intersecting or badly closed)', 'coords')
    return geometry


def check_work(geometry, vertices: int, query_type: str):
    """Refuse (413) geometries over the declared work limits before anything is read or computed."""
    if geometry.geom_type == 'MultiPoint':
        limit = LIMITS['max-points']
        if vertices > limit.value:
            what = 'centres' if query_type == 'radius' else 'points'
            raise TooLarge(f'coords: {vertices:,} {what}, over this server\'s limit of {limit.value:,} {limit.description}'
                           '; split the request', 'coords')
    limit = LIMITS['max-vertices']
    if vertices > limit.value:
        raise TooLarge(f'coords: {vertices:,} vertices, over this server\'s limit of {limit.value:,} '
                       f'{limit.description}; simplify the geometry', 'coords')


def parse_parameters(text: str | None, model: GridModel) -> list[str] | None:
    if text is None or text.strip() == '':
        return None
    names = [n.strip() for n in text.split(',') if n.strip()]
    unknown = [n for n in names if n not in model.variables]
    if unknown:
        raise InvalidParameter(f'parameter-name: unknown {", ".join(unknown)}; '
                               f'this collection has {", ".join(model.variables)}', 'parameter-name')
    return list(dict.fromkeys(names))


def parse_custom(params, model: GridModel) -> dict[str, AxisRequest]:
    out = {}
    for dim, axis in model.custom.items():
        text = params.get(dim)
        if text is None or str(text).strip() == '':
            continue
        if axis.numeric is not None:
            request = parse_levels(str(text), dim)
            if request.values is not None:
                # a member, band or category is named exactly: 1.5 is no ensemble member, not "the nearest one"
                known = np.asarray(axis.values, dtype='float64')
                missing = [v for v in request.values
                           if not np.isclose(known, v, rtol=1e-9, atol=1e-12).any()]
                if missing:
                    raise InvalidParameter(f'{dim}: no value {", ".join(f"{v:g}" for v in missing)}; expected '
                                           f'some of {", ".join(f"{v:g}" for v in known[:20])} or an interval a/b',
                                           dim)
            out[dim] = request
        else:
            labels = [p.strip() for p in str(text).split(',')]
            unknown = [v for v in labels if v not in set(axis.values)]
            if unknown:
                raise InvalidParameter(f'{dim}: unknown value(s) {", ".join(unknown)}; '
                                       f'expected some of {", ".join(axis.values[:20])}', dim)
            out[dim] = AxisRequest(labels=labels, text=str(text))
    return out


MIN_DISTANCE_M = 0.001
HALF_CIRCUMFERENCE_M = 20_037_508.0     # no two points of the Earth are farther apart


def parse_distance(value: str | None, units: str | None, value_name: str, units_name: str,
                   maximum_m: float = HALF_CIRCUMFERENCE_M) -> float:
    """A positive distance in metres from a number and a unit name."""
    if value is None or str(value).strip() == '':
        raise MissingParameter(f'{value_name}: required, a positive number (with {units_name})', value_name)
    amount = number(str(value), value_name)
    if amount <= 0:
        raise InvalidParameter(f'{value_name}: must be positive, got {value}', value_name)
    if units is None or str(units).strip() == '':
        raise MissingParameter(f'{units_name}: required, one of {", ".join(DISTANCE_UNITS)}', units_name)
    factor = DISTANCE_UNITS.get(str(units).strip().lower())
    if factor is None:
        raise InvalidParameter(f'{units_name}: unknown unit {units!r}; expected one of '
                               f'{", ".join(DISTANCE_UNITS)}', units_name)
    metres = amount * factor
    if not MIN_DISTANCE_M <= metres <= maximum_m:
        raise InvalidParameter(f'{value_name}: {value} {units} is outside {MIN_DISTANCE_M * 1000:g} mm .. '
                               f'{maximum_m / 1000:,.0f} km', value_name)
    return metres


def parse_interpolation(params, query_type: str) -> Interpolation:
    """`interpolation`, `interpolation-params=k:v,k:v` (Kazarr's syntax), `time-interpolation`."""
    method = str(params.get('interpolation') or 'nearest').strip().lower()
    if method not in INTERPOLATION_PARAMS:
        raise InvalidParameter(f'interpolation: unknown method {method!r}; expected one of '
                               f'{", ".join(INTERPOLATION_PARAMS)}', 'interpolation')
    if method != 'nearest' and query_type not in POINT_SAMPLES:
        raise InvalidParameter(f'interpolation: {method} applies to point samples ({", ".join(POINT_SAMPLES)}); '
                               f'{query_type} answers the cells themselves', 'interpolation')
    allowed = INTERPOLATION_PARAMS[method]
    values = {}
    text = str(params.get('interpolation-params') or '').strip()
    for item in filter(None, (p.strip() for p in text.split(','))):
        key, sep, raw = item.partition(':')
        key = key.strip().lower()
        if not sep or key not in allowed:
            expected = ', '.join(allowed) or f'none for {method}'
            raise InvalidParameter(f'interpolation-params: {item!r} is not a parameter of {method} '
                                   f'(expected key:value with key in {expected})', 'interpolation-params')
        try:
            values[key] = allowed[key](raw.strip())
            if allowed[key] is float and not math.isfinite(values[key]):
                raise ValueError
        except ValueError:
            raise InvalidParameter(f'interpolation-params: {key} must be a finite {allowed[key].__name__}',
                                   'interpolation-params') from None
    _check_interpolation_values(method, values)
    time_method = str(params.get('time-interpolation') or 'nearest').strip().lower()
    if time_method not in ('nearest', 'linear'):
        raise InvalidParameter(f'time-interpolation: expected nearest or linear, got {time_method!r}',
                               'time-interpolation')
    return Interpolation(method, values, time_method)


def _check_interpolation_values(method: str, values: dict):
    def bad(message):
        raise InvalidParameter(f'interpolation-params: {message}', 'interpolation-params')
    if method == 'idw':
        values.setdefault('power', 2.0)
        if values['power'] <= 0:
            bad('power must be positive')
        if 'radius' in values and values['radius'] <= 0:
            bad('radius (km) must be positive')
    if method == 'rbf':
        values.setdefault('kernel', 'thin_plate_spline')
        values.setdefault('neighbors', 16)
        values.setdefault('smoothing', 0.0)
        if values['kernel'] not in RBF_KERNELS:
            bad(f'kernel must be one of {", ".join(RBF_KERNELS)}')
        if not 3 <= values['neighbors'] <= 256:
            bad('neighbors must be 3..256 (the fit uses only that many nearest cells)')
        if values['smoothing'] < 0:
            bad('smoothing must be >= 0')
        needed = RBF_MIN_NEIGHBORS.get(values['kernel'], 1)
        if values['neighbors'] < needed:
            bad(f'the {values["kernel"]} kernel needs at least {needed} neighbors (its polynomial terms)')
        if values['kernel'] in SCALED_KERNELS:
            values.setdefault('epsilon', 1.0)
            if values['epsilon'] <= 0:
                bad('epsilon must be positive')
        elif 'epsilon' in values:
            # scipy ignores epsilon for scale-free kernels: taking it would pretend it did something
            bad(f'epsilon applies to the {", ".join(SCALED_KERNELS)} kernels only, not {values["kernel"]}')


CRS84_NAMES = {'crs84', 'ogc:crs84', 'http://www.opengis.net/def/crs/ogc/1.3/crs84',
               'https://www.opengis.net/def/crs/ogc/1.3/crs84'}


def parse_crs(text: str | None, model: GridModel, answers_cells: bool = False) -> bool:
    """True when the answer is asked in the grid's own CRS; CRS84 is the default for point answers.

    A projected grid's cell answers default to its own CRS (a Grid); in CRS84 they are cell centres.
    """
    grids = answers_cells
    native_uri = crs_uri(model.crs) or 'native'
    if text is None or str(text).strip() == '':
        return grids and model.projected
    text = str(text).strip()
    if text.lower() in CRS84_NAMES:
        # a projected grid's cells asked in CRS84 come as a MultiPoint of cell centres (no lon/lat Grid holds them)
        return False
    if text.lower() == 'native' or same_crs(text, model.crs):
        return model.projected
    raise InvalidParameter(f'crs: {text!r} is not offered; expected CRS84 or {native_uri}', 'crs')


def parse_resolution(params, query_type: str) -> dict:
    """`resolution-x`, `resolution-y` (positions across the region), `resolution-limit` (max cells per axis)."""
    out = {}
    for key, name in (('x', 'resolution-x'), ('y', 'resolution-y'), ('limit', 'resolution-limit')):
        text = params.get(name)
        if text is None or str(text).strip() == '':
            continue
        try:
            value = int(str(text).strip())
        except ValueError:
            value = 0
        if value < 1:
            raise InvalidParameter(f'{name}: expected a positive whole number, got {text!r}', name)
        if query_type not in ('cube', 'area'):
            raise InvalidParameter(f'{name}: decimation applies to cube and area queries', name)
        out[key] = value
    if 'limit' in out and ('x' in out or 'y' in out):
        raise InvalidParameter('resolution-limit: give either resolution-limit or resolution-x/-y', 'resolution-limit')
    return out
