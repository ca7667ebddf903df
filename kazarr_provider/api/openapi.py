"""The OpenAPI document: pygeoapi's, with our EDR operations (every parameter we read, POST, status codes,
formats) and our own routes (health, catalogue refresh)."""
from __future__ import annotations

import os
import re
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import KazarrError
from ..formats import DEFAULT_FORMAT, FORMATS

EDR_PATH = re.compile(r'^/collections/([^/]+)/(position|area|cube|radius|trajectory|corridor)/?$')
INSTANCES_PATH = re.compile(r'^/collections/([^/]+)/instances(?:/.*)?$')

COORDS = {
    'position': 'POINT(lon lat) or MULTIPOINT((lon lat),...), CRS84',
    'radius': 'POINT(lon lat) or MULTIPOINT((lon lat),...): the centres, CRS84',
    'area': 'POLYGON((...)) or MULTIPOLYGON(((...))), CRS84',
    'trajectory': 'LINESTRING, LINESTRING Z, LINESTRING M or LINESTRING ZM (M = Unix epoch seconds), CRS84',
    'corridor': 'LINESTRING (the corridor\'s centre line), CRS84',
}
COMMON = {
    'datetime': 'instant, start/end, ../end or start/.. (RFC 3339); an instant answers the nearest step',
    'z': 'level (850), interval (100/550), list (10,80,200) or recurrence (R5/1000/-100)',
    'parameter-name': 'comma-separated parameter ids (see parameter_names); all when absent',
    'crs': 'CRS84 (default) or the collection\'s storage CRS (see crs / storageCrs)',
    'time-interpolation': 'nearest (default) or linear: the value at exactly the requested instant',
}
SPECIFIC = {
    'cube': {'bbox': 'west,south,east,north or west,south,zmin,east,north,zmax (CRS84); west > east crosses '
                     'the antimeridian',
             'resolution-x': 'positions wanted across the bbox in x (multiscale collections pick a level)',
             'resolution-y': 'positions wanted across the bbox in y (multiscale collections pick a level)',
             'resolution-limit': 'at most this many cells per axis (multiscale collections pick a level)'},
    'radius': {'within': 'radius around each centre (a positive number)',
               'within-units': 'unit of within: km, m, mi, nm, ft'},
    'corridor': {'corridor-width': 'full width of the corridor', 'width-units': 'unit of corridor-width: km, m, mi, nm, ft',
                 'corridor-height': 'full height of the corridor, in the vertical axis\' units',
                 'height-units': 'unit of corridor-height (the vertical axis\' units)'},
}
SPECIFIC['area'] = {k: v.replace('bbox', 'area') for k, v in SPECIFIC['cube'].items() if k.startswith('resolution')}
INTERPOLATION = {
    'interpolation': 'nearest (default), linear, cubic, idw or rbf: spatial interpolation of point samples',
    'interpolation-params': 'key:value,... e.g. power:2,radius:300 (idw) or kernel:thin_plate_spline,neighbors:16 (rbf)',
}
INTERPOLATED = ('position', 'radius', 'trajectory')
REQUIRED = {'position': ('coords',), 'radius': ('coords', 'within', 'within-units'), 'area': ('coords',),
            'cube': ('bbox',), 'trajectory': ('coords',), 'corridor': ('coords', 'corridor-width', 'width-units')}


@dataclass
class CollectionFacts:
    """What decides which parameters a collection's queries take."""

    custom: dict[str, str] = field(default_factory=dict)     # custom dimension -> description
    has_t: bool = True
    has_z: bool = True
    has_levels: bool = True


def query_parameters(query_type: str, facts: CollectionFacts) -> dict[str, str]:
    """{parameter name: description} of one EDR query of a collection, in the order clients show them.

    Only what the collection can take: no datetime without a time axis, no z without a vertical one,
    no resolution-* without overview levels (each would be a 400).
    """
    described = {}
    if query_type in COORDS:
        described['coords'] = f'WKT: {COORDS[query_type]}'
    described.update(SPECIFIC.get(query_type, {}))
    described.update(COMMON)
    if query_type in INTERPOLATED:
        described.update(INTERPOLATION)
    described.update(facts.custom)
    dropped = set()
    if not facts.has_t:
        dropped |= {'datetime', 'time-interpolation'}
    if not facts.has_z:
        dropped |= {'z', 'corridor-height', 'height-units'}
    if not facts.has_levels:
        dropped |= {'resolution-x', 'resolution-y', 'resolution-limit'}
    return {name: text for name, text in described.items() if name not in dropped}


def _parameter(name: str, description: str, required: bool) -> dict:
    return {'name': name, 'in': 'query', 'required': required, 'description': description,
            'schema': {'type': 'string'}, 'style': 'form', 'explode': False}


def _format_parameter() -> dict:
    return {'name': 'f', 'in': 'query', 'required': False, 'description': 'output format (or use Accept)',
            'schema': {'type': 'string', 'enum': list(FORMATS), 'default': DEFAULT_FORMAT}}


def _responses() -> dict:
    return {
        '200': {'description': 'The data', 'content': {media: {'schema': {'type': 'string' if media in (
            'text/csv', 'application/x-netcdf') else 'object'}} for media in FORMATS.values()}},
        '204': {'description': 'No data: the request lies outside the data (reason in Kazarr-No-Data-Reason)'},
        '400': {'description': 'Invalid parameter (the JSON body names it)', 'content': {'application/json': {}}},
        '404': {'description': 'Unknown collection', 'content': {'application/json': {}}},
        '413': {'description': 'Answer larger than the server limit (stated in the body)',
                'content': {'application/json': {}}},
        '503': {'description': 'The storage did not answer in time', 'content': {'application/json': {}}},
    }


def edr_operations(ident: str, query_type: str, facts: CollectionFacts, template: dict) -> dict:
    """GET and POST of one EDR query path, with every parameter this server reads."""
    described = query_parameters(query_type, facts)
    required = REQUIRED[query_type]
    get = {key: template[key] for key in ('summary', 'description', 'tags') if key in template}
    get['operationId'] = template.get('operationId') or f'{query_type}-{ident}'
    get['parameters'] = [_parameter(name, text, name in required) for name, text in described.items()]
    get['parameters'].append(_format_parameter())
    get['responses'] = _responses()
    post = deepcopy(get)
    post['operationId'] = get['operationId'] + 'Post'
    post['parameters'] = [_format_parameter()]
    body = {'type': 'object', 'required': list(required),
            'properties': {name: {'type': 'string', 'description': text} for name, text in described.items()}}
    post['requestBody'] = {'description': 'the same parameters as GET, for long coordinates',
                           'content': {'application/json': {'schema': body},
                                       'application/x-www-form-urlencoded': {'schema': body}}}
    return {'get': get, 'post': post}


def _facts(state, ident: str) -> CollectionFacts:
    try:
        opened = state.dataset(ident)
    except KazarrError:
        return CollectionFacts()
    model = opened.model
    custom = {dim: f'{axis.attrs.get("long_name", dim)}: a value, a list (a,b) or an interval (a/b); all when absent'
              for dim, axis in model.custom.items()}
    return CollectionFacts(custom, model.t is not None, model.z is not None, bool(opened.levels))


def openapi_document(config: dict, state=None) -> dict:
    from pygeoapi.openapi import get_oas
    document = get_oas(config, fail_on_invalid_collection=False)
    document['paths']['/health'] = {'get': {
        'summary': 'Liveness', 'operationId': 'health', 'tags': ['server'],
        'responses': {'200': {'description': '{"status": "ok"}'}}}}
    document['paths']['/catalogue/refresh'] = {'post': {
        'summary': 'List the datasets again now', 'operationId': 'refreshCatalogue', 'tags': ['server'],
        'responses': {'200': {'description': '{"collections": [ids]}'}}}}
    ours = set(getattr(state, 'ours', {}) or {})
    for path in list(document['paths']):
        match = EDR_PATH.match(path)
        if match is None or (state is not None and match.group(1) not in ours):
            continue
        ident, query_type = match.groups()
        facts = _facts(state, ident) if state is not None else CollectionFacts()
        document['paths'][path] = edr_operations(ident, query_type, facts, document['paths'][path].get('get', {}))
    for path in [p for p in document['paths'] if INSTANCES_PATH.match(p)]:
        if state is None or INSTANCES_PATH.match(path).group(1) in ours:
            del document['paths'][path]          # our collections have no instances
    return document


def write_runtime_files(state, openapi_path: str | None = None) -> tuple[str, str]:
    """pygeoapi reads its config and OpenAPI from files named in the environment."""
    directory = Path(state.settings.state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / 'pygeoapi-config.generated.yml'
    openapi_file = Path(openapi_path) if openapi_path else directory / 'openapi.generated.yml'
    _write_atomically(config_file, yaml.safe_dump(state.config, sort_keys=False))
    _write_atomically(openapi_file, yaml.safe_dump(openapi_document(state.config, state), sort_keys=False))
    return str(config_file), str(openapi_file)


def _write_atomically(path: Path, text: str):
    """Workers write the same files concurrently: each replaces them whole, none sees a half-written one."""
    partial = path.with_name(f'{path.name}.{os.getpid()}.part')
    partial.write_text(text, encoding='utf8')
    os.replace(partial, path)
