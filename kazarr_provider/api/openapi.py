"""The OpenAPI document: pygeoapi's for the framework's routes, ours generated from `declarations` (one
parameter table per API) for the EDR queries and the coverage of our collections (every parameter we
read, with its pattern or values, example and whether it is required; POST bodies; every status we send,
with the error body's schema) and our own routes. References to remote schemas are replaced by
descriptions of our own answers, so the document can be checked offline."""
from __future__ import annotations

import dataclasses
from copy import deepcopy
from dataclasses import dataclass, field

import numpy as np

from ..formats import FORMATS
from ..core.times import iso
from .collections import spatial_bbox
from .processes.openapi import process_operations
from .coverages import documents as coverage_documents
from .coverages.service import FORMATS as COVERAGE_FORMATS
from .declarations import PARAMS, QUERY_TYPES, Param, QueryType

ERROR = {'$ref': '#/components/schemas/kazarrException'}
ERROR_SCHEMA = {
    'type': 'object', 'required': ['code', 'description'],
    'properties': {'code': {'type': 'string', 'description': 'OGC exception code'},
                   'description': {'type': 'string', 'description': 'what was wrong and what is expected'},
                   'parameter': {'type': 'string', 'description': 'the parameter (or header) at fault'}}}
STATUS_TEXT = {
    '400': 'Invalid parameter: the body names it and says what is expected',
    '404': 'Unknown collection, instance or path',
    '405': 'Method not allowed here (the Allow header lists the methods)',
    '406': 'None of the formats named by Accept can be produced',
    '413': 'Larger than a limit of this server (the body states the limit)',
    '500': 'Internal error (logged; never described further)',
    '503': 'The storage did not answer (the body says how)',
}
# pygeoapi's routes that its generated document leaves out
FRAMEWORK_PATHS = {
    '/stac': 'STAC catalogue root (pygeoapi)',
}


@dataclass
class CollectionFacts:
    """What decides which parameters a collection's queries take."""

    custom: dict[str, str] = field(default_factory=dict)     # custom dimension -> description
    has_t: bool = True
    has_z: bool = True
    has_levels: bool = True
    examples: dict[str, str] = field(default_factory=dict)   # parameter -> a value inside this collection

    def offers(self, param: Param) -> bool:
        return {'t': self.has_t, 'z': self.has_z, 'levels': self.has_levels, None: True}[param.needs]


def query_parameters(query: QueryType, facts: CollectionFacts) -> list[Param]:
    """The parameters one EDR query of a collection takes, in the order clients show them.

    Only what the collection can take: no datetime without a time axis, no z without a vertical one,
    no resolution-* without overview levels (each would be a 400).
    """
    offered = [param for param in query.declared() if facts.offers(param)]
    offered += [Param(dim, text, facts.examples.get(dim, '')) for dim, text in facts.custom.items()]
    examples = {**facts.examples, **facts.examples.get(f'{query.name}:coords', {})}
    return [dataclasses.replace(p, example=examples[p.name]) if isinstance(examples.get(p.name), str) else p
            for p in offered]


def _parameter(param: Param, required: bool) -> dict:
    schema = param.schema()
    if not param.example:
        schema.pop('example')
    return {'name': param.name, 'in': 'query', 'required': required, 'description': param.description,
            'schema': schema, 'style': 'form', 'explode': False}


def _error_responses(*codes: str) -> dict:
    return {code: {'description': STATUS_TEXT[code], 'content': {'application/json': {'schema': ERROR}}}
            for code in codes}


def _data_responses() -> dict:
    return {
        '200': {'description': 'The data', 'content': {media: {'schema': {'type': 'string' if media in (
            'text/csv', 'application/x-netcdf') else 'object'}} for media in FORMATS.values()}},
        '204': {'description': 'No data: the request lies outside the data (reason in Kazarr-No-Data-Reason)'},
        **_error_responses('400', '404', '405', '406', '413', '500', '503'),
    }


def edr_operations(ident: str, query: QueryType, facts: CollectionFacts) -> dict:
    """GET and POST of one EDR query path, with every parameter this server reads."""
    params = query_parameters(query, facts)
    fmt = _parameter(PARAMS['edr']['f'], False)
    get = {'summary': f'{query.name} query of {ident}: {query.summary}', 'tags': [ident],
           'operationId': f'{query.name}-{ident}',
           'parameters': [_parameter(p, p.name in query.required) for p in params] + [fmt],
           'responses': _data_responses()}
    post = deepcopy(get)
    post['operationId'] += 'Post'
    post['parameters'] = [fmt]
    body = {'type': 'object', 'required': list(query.required), 'additionalProperties': True,
            'properties': {p['name']: {**p['schema'], 'description': p['description']}
                           for p in get['parameters'] if p['name'] != 'f'}}
    post['requestBody'] = {'description': 'the same parameters as GET, for long coordinates', 'required': True,
                           'content': {'application/json': {'schema': body},
                                       'application/x-www-form-urlencoded': {'schema': body}}}
    return {'get': get, 'post': post}


def _facts(opened) -> CollectionFacts:
    model = opened.model
    custom = {dim: f'{axis.attrs.get("long_name", dim)}: a value, a list (a,b) or an interval (a/b); all when absent'
              for dim, axis in model.custom.items()}
    return CollectionFacts(custom, model.t is not None, model.z is not None, bool(opened.levels), _examples(model))


def _examples(model) -> dict:
    """Examples inside this collection's data, so that the documented examples together answer data."""
    west, south, east, north = spatial_bbox(model)
    if west > east:
        east += 360.0
    x, y = round((west + east) / 2, 4), round((south + north) / 2, 4)
    dx, dy = round(max((east - west) / 8, 1e-4), 4), round(max((north - south) / 8, 1e-4), 4)
    if x > 180:
        x -= 360.0
    line = f'LINESTRING({x - dx} {y - dy},{x} {y},{x + dx} {y + dy})'
    examples = {'parameter-name': next(iter(model.variables)),
                'bbox': f'{x - dx},{y - dy},{x + dx},{y + dy}',
                'position:coords': {'coords': f'POINT({x} {y})'}, 'radius:coords': {'coords': f'POINT({x} {y})'},
                'area:coords': {'coords': f'POLYGON(({x - dx} {y - dy},{x + dx} {y - dy},{x + dx} {y + dy},'
                                          f'{x - dx} {y + dy},{x - dx} {y - dy}))'},
                'trajectory:coords': {'coords': line}, 'corridor:coords': {'coords': line}}
    if model.t is not None:
        examples['datetime'] = iso(np.sort(model.t_seconds)[:1], model.calendar)[0]
    if model.z is not None:
        examples['z'] = f'{model.z_values[0]:g}'
        examples['height-units'] = str(model.z_attrs.get('units', '')) or 'm'
    for dim, axis in model.custom.items():
        value = axis.values[0]
        examples[dim] = f'{value:g}' if axis.numeric is not None else str(value)
    return examples


def _local(node, key: str = ''):
    """The document with every reference to a remote host replaced by a description of our own answer."""
    if isinstance(node, list):
        return [_local(item, key) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get('$ref')
    if isinstance(ref, str) and not ref.startswith('#'):
        name = ref.rsplit('/', 1)[-1].split('.')[0]
        if key in STATUS_TEXT:
            return _error_responses(key)[key]
        if key in ('200', '201'):
            return {'description': name, 'content': {'application/json': {'schema': {'type': 'object'}}}}
        return {'type': 'object', 'description': name}
    return {k: _local(v, k) for k, v in node.items()}


def coverage_operations(ident: str) -> dict:
    """/coverage (GET and HEAD), its legacy domain set and range type, and the collection's schema."""
    fmt = {'name': 'f', 'in': 'query', 'required': False, 'description': 'output format (or use Accept)',
           'schema': {'type': 'string', 'enum': list(COVERAGE_FORMATS)}}
    params = [{'name': p.name, 'in': 'header' if p.header else 'query', 'required': False,
               'description': p.description, 'schema': {k: v for k, v in p.schema().items() if k != 'minLength'},
               **({} if p.header else {'style': 'form', 'explode': p.name == 'subset'})}
              for p in sorted(PARAMS['coverages'].values(), key=lambda p: p.header)]
    data = {'200': {'description': 'The coverage', 'content': {media: {'schema': {
        'type': 'object' if 'json' in media else 'string'}} for media in COVERAGE_FORMATS.values()}},
        '204': {'description': 'No data: the subset lies outside the data'},
        **_error_responses('400', '404', '405', '406', '413', '500', '503')}
    json_answer = {'200': {'description': 'JSON', 'content': {'application/json': {'schema': {'type': 'object'}}}},
                   **_error_responses('404', '405', '500')}
    return {
        f'/collections/{ident}/coverage': {'get': {
            'summary': f'coverage of {ident}: subset, scale, reproject', 'operationId': f'coverage-{ident}',
            'tags': [ident], 'parameters': params + [fmt], 'responses': data}},
        f'/collections/{ident}/coverage/domainset': {'get': {
            'summary': f'domain set of {ident} (CIS JSON, legacy)', 'operationId': f'domainset-{ident}',
            'tags': [ident], 'responses': json_answer}},
        f'/collections/{ident}/coverage/rangetype': {'get': {
            'summary': f'range type of {ident} (CIS JSON, legacy)', 'operationId': f'rangetype-{ident}',
            'tags': [ident], 'responses': json_answer}},
        f'/collections/{ident}/schema': {'get': {
            'summary': f'fields of {ident} (JSON Schema)', 'operationId': f'schema-{ident}', 'tags': [ident],
            'responses': {'200': {'description': 'JSON Schema', 'content': {
                'application/schema+json': {'schema': {'type': 'object'}}}}, **_error_responses('404', '405')}}},
    }


def _framework_answers(document: dict) -> dict:
    """pygeoapi's operations answer HTML and JSON-LD too (its `f` says so), and 405 for other methods."""
    for operations in document['paths'].values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or 'responses' not in operation:
                continue
            for response in operation['responses'].values():
                content = response.get('content') or {}
                if 'application/json' in content:
                    content.setdefault('application/ld+json', {'schema': {'type': 'object'}})
                    content.setdefault('text/html', {'schema': {'type': 'string'}})
            operation['responses'].setdefault('405', _error_responses('405')['405'])
    return document


def openapi_document(config: dict, opened: dict | None = None) -> dict:
    """pygeoapi's document for `config`, with our operations on the collections `opened` ({id: dataset})."""
    from pygeoapi.openapi import get_oas
    document = _framework_answers(_local(get_oas(config, fail_on_invalid_collection=False)))
    document.setdefault('components', {}).setdefault('schemas', {})['kazarrException'] = ERROR_SCHEMA
    paths = document['paths']
    for path, text in FRAMEWORK_PATHS.items():
        paths.setdefault(path, {'get': {'summary': text, 'operationId': path.strip('/'), 'tags': ['server'],
                                        'responses': {'200': {'description': text, 'content': {
                                            'application/json': {'schema': {'type': 'object'}}}}}}})
    paths['/health'] = {'get': {
        'summary': 'Liveness', 'operationId': 'health', 'tags': ['server'],
        'responses': {'200': {'description': 'alive', 'content': {'application/json': {'schema': {
            'type': 'object', 'properties': {'status': {'type': 'string', 'enum': ['ok']}}}}}},
            **_error_responses('405')}}}
    paths['/catalogue/refresh'] = {'post': {
        'summary': 'List the datasets again now', 'operationId': 'refreshCatalogue', 'tags': ['server'],
        'responses': {'200': {'description': 'the collections served after the walk', 'content': {
            'application/json': {'schema': {'type': 'object', 'properties': {
                'collections': {'type': 'array', 'items': {'type': 'string'}}}}}}},
            **_error_responses('405')}}}
    for name in [p for p in paths if p.startswith(('/processes', '/jobs'))]:
        del paths[name]                 # pygeoapi's describe 1.0 loosely: ours replace them
    paths.update(process_operations())
    for ident, dataset in (opened or {}).items():
        for name in [p for p in paths if p.startswith(f'/collections/{ident}/instances')]:
            del paths[name]          # our collections have no instances
        if coverage_documents.offers_coverage(dataset.model):
            paths.update(coverage_operations(ident))
        facts = _facts(dataset)
        for query in QUERY_TYPES.values():
            paths[f'/collections/{ident}/{query.name}'] = edr_operations(ident, query, facts)
    return document
