"""Process inputs: declared once as JSON Schema, validated before anything runs, read through the EDR parsers.

Every input of every process is an `Input` (its schema and description feed the process description);
`validate` checks a request's inputs against them (400 naming the input and what was expected), and
`window_query` turns the inputs shared by all processes (collection, parameter, bbox, datetime, z,
dimensions) into the core's frozen `Query` through the same parsers EDR uses, so a datetime, a level or
a member means the same in both APIs. A dimension left unspecified takes a documented default slice: the
latest time step, the first level, the first value of another dimension.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Mapping

import jsonschema
import numpy as np

from ...core.model import GridModel
from ...core.query import AxisRequest, Query
from ...errors import InvalidParameter, KazarrError, MissingParameter
from ..coverages.documents import lonlat_grid
from ..declarations import INTERPOLATION_METHODS
from ..edr.parse import parse_query
from ..params import parse_interpolation

MAX_LEVELS = 1000
CRS84 = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'


@dataclass(frozen=True)
class Input:
    """One process input: its JSON Schema, whether it is required, and how it is described."""

    name: str
    title: str
    description: str
    schema: Mapping
    required: bool = False
    example: object = None

    def document(self) -> dict:
        return {'title': self.title, 'description': self.description, 'schema': dict(self.schema),
                'minOccurs': 1 if self.required else 0, 'maxOccurs': 1}


_NUMBER_LIST = {'type': 'array', 'items': {'type': 'number'}, 'minItems': 1, 'maxItems': MAX_LEVELS}
_BBOX_ARRAY = {'type': 'array', 'items': {'type': 'number'}, 'minItems': 4, 'maxItems': 4}

COLLECTION = Input('collection', 'Collection', 'the collection to compute on (its id)', {'type': 'string'},
                   required=True, example='era5.pressure_levels')
PARAMETER = Input('parameter', 'Parameter', 'the field (parameter id of the collection)', {'type': 'string'},
                  example='t')
PARAMETERS = Input('parameter', 'Parameters', 'one field, or several, of the collection; all when absent',
                   {'oneOf': [{'type': 'string'}, {'type': 'array', 'items': {'type': 'string'}, 'minItems': 1}]},
                   example=['t'])
BBOX = Input('bbox', 'Bounding box', '[west, south, east, north] in CRS84 (west > east crosses the antimeridian), '
             'or an OGC bounding box object {"bbox": [...], "crs": CRS84}; default the whole extent',
             {'oneOf': [_BBOX_ARRAY, {'type': 'object', 'required': ['bbox'], 'properties': {
                 'bbox': _BBOX_ARRAY, 'crs': {'type': 'string', 'enum': [CRS84]}}}]},
             example=[-10, 35, 20, 50])
DATETIME = Input('datetime', 'Time', 'an instant (RFC 3339); the nearest time step answers, as in EDR; default '
                 'the latest step', {'type': 'string', 'format': 'date-time'}, example='2024-07-01T00:00:00Z')
Z = Input('z', 'Vertical level', 'a vertical level (the nearest one answers); default the first level',
          {'type': 'number'}, example=850)
DIMENSIONS = Input('dimensions', 'Other dimensions', 'one value per other dimension of the collection (an '
                   'ensemble member, a band...), by its name; default the first value of each',
                   {'type': 'object', 'additionalProperties': {'type': ['string', 'number']}},
                   example={'number': 1})
LEVELS = Input('levels', 'Levels', 'the contour levels: a list of numbers (kept in this order), or {"step": s, '
               '"min": a, "max": b}: the multiples of s from the first one >= min to max (min and max default to '
               f'the data inside the bbox); at most {MAX_LEVELS}',
               {'oneOf': [_NUMBER_LIST, {'type': 'object', 'required': ['step'], 'additionalProperties': False,
                                         'properties': {'step': {'type': 'number', 'exclusiveMinimum': 0},
                                                        'min': {'type': 'number'}, 'max': {'type': 'number'}}}]},
               required=True, example=[280, 285, 290])
SIZE = Input('size', 'Lattice size', '[nx, ny]: cells across the bbox west to east and south to north',
             {'type': 'array', 'items': {'type': 'integer', 'minimum': 1}, 'minItems': 2, 'maxItems': 2},
             example=[100, 80])
METHOD = Input('method', 'Interpolation', 'how lattice values are computed from the grid, as EDR\'s '
               'interpolation', {'type': 'string', 'enum': list(INTERPOLATION_METHODS)}, example='linear')
METHOD_PARAMS = Input('method_params', 'Interpolation parameters', 'the method\'s parameters, as EDR\'s '
                      'interpolation-params (e.g. {"power": 2, "radius": 50} for idw)',
                      {'type': 'object', 'additionalProperties': {'type': ['number', 'string']}}, example={})
DATA_MAPPING = Input('data_mapping', 'Data mapping', 'vertices: one vertex per data point, two triangles per '
                     'quad of four valid points; cells: vertices at cell corners, each cell\'s value on its two '
                     'triangles', {'type': 'string', 'enum': ['vertices', 'cells'], 'default': 'vertices'},
                     example='vertices')

# EDR parameter -> process input, for errors raised by the shared parsers
EDR_TO_INPUT = {'parameter-name': 'parameter', 'interpolation': 'method', 'interpolation-params': 'method_params',
                'bbox': 'bbox', 'datetime': 'datetime', 'z': 'z'}
FIELD_TO_INPUT = {'time': 'datetime', 'vertical': 'z', 'geometry': 'bbox', 'interpolation': 'method',
                  'interpolation-params': 'method_params'}


def unwrap(value):
    """An input given qualified ({"value": v, "mediaType": ...}) reads as v."""
    if isinstance(value, dict) and 'value' in value and set(value) <= {'value', 'mediaType', 'encoding', 'schema'}:
        return value['value']
    return value


def validate(inputs, declared: Mapping[str, Input], collections: list[str]) -> dict:
    """The inputs, unwrapped, checked against their schemas; 400 naming the first input at fault."""
    if not isinstance(inputs, dict):
        raise InvalidParameter('inputs: expected an object of process inputs keyed by their ids', 'inputs')
    unknown = sorted(set(inputs) - set(declared))
    if unknown:
        raise InvalidParameter(f'{unknown[0]}: not an input of this process; it takes '
                               f'{", ".join(declared)}', unknown[0])
    out = {}
    for name, spec in declared.items():
        if name not in inputs or inputs[name] is None:
            if spec.required:
                raise MissingParameter(f'{name}: required ({spec.description})', name)
            continue
        value = unwrap(inputs[name])
        schema = dict(spec.schema, **({'enum': collections} if name == 'collection' else {}))
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(value))
        if error is not None:
            where = ''.join(f'[{p!r}]' for p in error.absolute_path)
            raise InvalidParameter(f'{name}{where}: {_expected(error, name, collections)}', name)
        out[name] = value
    return out


def _expected(error, name: str, collections: list[str]) -> str:
    if name == 'collection' and error.validator == 'enum':
        return f'unknown collection {error.instance!r}; expected one of {", ".join(collections)}'
    return error.message


def window_query(inputs: Mapping, model: GridModel, *, several: bool = False) -> tuple[Query, dict]:
    """The core's cube request for the inputs, with the default slices taken, and the slice it names.

    The slice names the values asked or defaulted (the nearest step answers; the selection reports it).
    """
    params: dict[str, str] = {}
    names = inputs.get('parameter')
    if names is not None:
        params['parameter-name'] = ','.join([names] if isinstance(names, str) else names)
    params['bbox'] = ','.join(f'{v!r}' for v in _bbox(inputs, model))
    if inputs.get('datetime') is not None:
        params['datetime'] = inputs['datetime']
    if inputs.get('z') is not None:
        params['z'] = repr(float(inputs['z']))
    dimensions = inputs.get('dimensions') or {}
    for dim, value in dimensions.items():
        if dim not in model.custom:
            raise InvalidParameter(f'dimensions: {dim!r} is not a dimension of this collection; it has '
                                   f'{", ".join(model.custom) or "none"}', 'dimensions')
        params[dim] = str(value)
    try:
        query = parse_query('cube', params, model)
    except KazarrError as error:
        raise as_input_error(error, model) from None
    if query.parameters is not None and len(query.parameters) > 1 and not several:
        raise InvalidParameter('parameter: give one parameter', 'parameter')
    time, z, custom = query.time, query.z, dict(query.custom)
    if model.t is not None and time.is_all:
        time = AxisRequest(values=np.array([float(np.max(model.t_seconds))]), text='latest')
    if model.z is not None and z.is_all:
        z = AxisRequest(values=np.array([float(model.z_values[0])]), text='first')
    for dim, axis in model.custom.items():
        if dim not in custom:
            custom[dim] = AxisRequest(labels=[axis.values[0]]) if axis.numeric is None else \
                AxisRequest(values=np.array([float(axis.values[0])]))
    return dataclasses.replace(query, time=time, z=z, custom=custom), params


def interpolation(inputs: Mapping):
    """EDR's interpolation for the regrid process's `method` and `method_params`."""
    params = {'interpolation': inputs.get('method') or 'nearest'}
    method_params = inputs.get('method_params') or {}
    if method_params:
        params['interpolation-params'] = ','.join(f'{k}:{v}' for k, v in method_params.items())
    try:
        return parse_interpolation(params, 'position')
    except KazarrError as error:
        raise as_input_error(error, None) from None


def _bbox(inputs: Mapping, model: GridModel) -> tuple[float, float, float, float]:
    bbox = inputs.get('bbox')
    if bbox is None:
        return tuple(float(v) for v in lonlat_grid(model)[0])
    values = bbox['bbox'] if isinstance(bbox, dict) else bbox
    if not all(math.isfinite(v) for v in values):
        raise InvalidParameter('bbox: expected four finite numbers [west, south, east, north]', 'bbox')
    return tuple(float(v) for v in values)


def as_input_error(error: KazarrError, model: GridModel | None) -> KazarrError:
    """An error of the shared parsers or the core, worded with the process input at fault."""
    parameter = error.parameter or (FIELD_TO_INPUT.get(error.field, error.field) if error.field else None)
    if parameter is None:
        return error
    custom = model is not None and parameter in model.custom
    name = 'dimensions' if custom else EDR_TO_INPUT.get(parameter, parameter)
    description = error.description
    if description.startswith(f'{parameter}: '):
        description = description[len(parameter) + 2:]
    named = type(error)(f'{name}: {f"{parameter}: " if custom else ""}{description}', name)
    return named
