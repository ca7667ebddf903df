"""The WSGI application: pygeoapi's Flask app plus our EDR routes and metadata.

pygeoapi serves the landing page, conformance, OpenAPI, /collections, HTML.
Three of its EDR behaviours are wrong for us (datetime outside the extent is
a 400, CoverageJSON is sent as application/json, answers go through
`json.dumps`), so the EDR query paths of our collections are answered here,
before pygeoapi's view runs; the collection documents pygeoapi writes get
our computed extents, parameters and data_queries merged in afterwards.
"""
from __future__ import annotations

import logging
import os
import re

import orjson
from flask import Response, request
from werkzeug.datastructures import Headers

from ..api import collections as metadata
from ..data.catalogue import OpenDataset
from ..errors import InvalidParameter, KazarrError, NotFound
from ..formats import to_covjson
from ..api.openapi import EDR_PATH, INSTANCES_PATH, write_runtime_files
from ..api.service import encoded
from ..settings import Settings
from .snapshot import AppState
from .http import error_response, json_response, negotiate_format, request_params

LOGGER = logging.getLogger(__name__)

COLLECTION_PATH = re.compile(r'^/collections(?:/([^/]+))?/?$')
SUPPORTED_QUERIES = set(metadata.QUERY_TYPES)

def create_app(settings: Settings | None = None, openapi_path: str | None = None):
    settings = settings or Settings.from_env()
    state = AppState(settings)
    config_file, openapi_file = write_runtime_files(state, openapi_path)
    os.environ['PYGEOAPI_CONFIG'] = config_file
    os.environ['PYGEOAPI_OPENAPI'] = openapi_file
    from pygeoapi import flask_app   # reads the two files above at import
    from pygeoapi.openapi import load_openapi_document

    app = flask_app.APP
    api = flask_app.api_
    prefix = flask_app.API_RULES.get_url_prefix('flask') or ''

    def render(snapshot):
        # off the request path: pygeoapi's files rewritten and the OpenAPI document read back from them
        write_runtime_files(snapshot, openapi_path)
        return load_openapi_document()

    state.render = render
    state.ensure_refresher()      # in the worker (the app is built after the fork), not at its first request

    def rebuild_if_changed():
        """Apply a snapshot prepared by the refresh thread (or POST): a swap of pygeoapi's dicts, no I/O."""
        snapshot = state.refresh()
        if snapshot is not None:
            LOGGER.info('the set of datasets changed: %s', sorted(snapshot.ours))
            api.config['resources'].clear()
            api.config['resources'].update(snapshot.config['resources'])
            api.tpl_config['resources'] = snapshot.tpl_resources
            api.openapi.clear()
            api.openapi.update(snapshot.openapi)

    @app.before_request
    def answer_ours():
        path = request.path[len(prefix):] if prefix and request.path.startswith(prefix) else request.path
        if path == '/health':
            return json_response(200, {'status': 'ok'})
        if path == '/catalogue/refresh' and request.method == 'POST':
            state.refresh_on_demand()
            rebuild_if_changed()
            return json_response(200, {'collections': sorted(state.ours)})
        rebuild_if_changed()
        instances = INSTANCES_PATH.match(path)
        if instances and instances.group(1) in state.ours:
            return error_response(NotFound(f'collection {instances.group(1)!r} has no instances; query it directly '
                                           f'(/collections/{instances.group(1)}/position, ...)', 'instanceId'))
        match = EDR_PATH.match(path)
        if match and match.group(1) not in (state.config.get('resources') or {}):
            # pygeoapi would answer a POST here with a 405 HTML page
            return error_response(NotFound(f'collection {match.group(1)!r} not found', 'collectionId'))
        if not match or match.group(1) not in state.ours:
            return None
        ident, query_type = match.groups()
        try:
            if query_type not in SUPPORTED_QUERIES:
                raise InvalidParameter(f'{query_type} queries are not offered by this collection; '
                                       f'it offers {", ".join(metadata.QUERY_TYPES)}', 'queryType')
            params = request_params()
            fmt = negotiate_format(params.get('f'), request.headers.get('Accept'))
            opened = state.dataset(ident)
            media_type, body, headers = encoded(opened, query_type, params, _max_values(state, ident), fmt)
            if isinstance(body, bytes):
                return Response(body, status=200, mimetype=media_type, headers=headers)
            # streamed: the first slice is encoded now, so encoding errors still become a 4xx/5xx
            body = iter(body)
            first = next(body, b'')
            return Response(_chain(first, body), status=200, mimetype=media_type, headers=headers)
        except KazarrError as error:
            return error_response(error)
        except Exception:  # a bug or an I/O failure: log it, never show it
            LOGGER.exception('%s query on %s failed', query_type, ident)
            return json_response(500, {'code': 'NoApplicableCode',
                                       'description': 'internal error while answering the query; see server log'})

    @app.after_request
    def merge_collection_metadata(response: Response):
        path = request.path[len(prefix):] if prefix and request.path.startswith(prefix) else request.path
        match = COLLECTION_PATH.match(path)
        if path.rstrip('/') == '/conformance' and response.status_code == 200:
            return _with_edr_conformance(response)
        if not match or response.status_code != 200:
            return response
        # pygeoapi replaces the Headers object by a plain dict: restore case-insensitive headers
        response.headers = Headers(response.headers)
        if not (response.mimetype or '').endswith('json'):
            return response
        try:
            document = orjson.loads(response.get_data())
        except orjson.JSONDecodeError:
            return response
        base = f'{settings.public_url}/collections'
        if match.group(1):
            if match.group(1) in state.ours:
                _merge(document, base, state.dataset(match.group(1)))
        else:
            for collection in document.get('collections', []):
                if collection.get('id') in state.ours:
                    _merge(collection, base, state.dataset(collection['id']))
        response.set_data(orjson.dumps(document))
        return response

    app.config['KAZARR_STATE'] = state
    return app


def _merge(collection: dict, base: str, opened: OpenDataset):
    collection.update(metadata.collection_document(f"{base}/{collection['id']}", opened.model,
                                                   dict(opened.ds.sizes)))
    # pygeoapi advertises its own data links as JSON and HTML; ours answer CoverageJSON only
    links = []
    for link in collection.get('links', []):
        if link.get('rel') == 'data' and link.get('type') == 'text/html':
            continue
        if link.get('rel') == 'data' and link.get('type') == 'application/json':
            link = {**link, 'type': to_covjson.MEDIA_TYPE, 'href': link['href'].replace('?f=json', ''),
                    'title': link.get('title', '').replace(' as JSON', ' as CoverageJSON')}
        links.append(link)
    collection['links'] = links


# html is pygeoapi's (landing page, collections), not our query answers; the 1.0 core URI is what
# the OGC test suite still looks for
EDR_CONFORMANCE = ['http://www.opengis.net/spec/ogcapi-edr-1/1.0/conf/core'] + [
    f'http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/{c}'
    for c in ('core', 'collections', 'json', 'geojson', 'covjson', 'queries', 'oas30')]


def _max_values(state: 'AppState', ident: str) -> int:
    """A collection's own `options.max_values` from the configuration, else the server's MAX_VALUES."""
    for provider in (state.config.get('resources', {}).get(ident) or {}).get('providers', []):
        limit = (provider.get('options') or {}).get('max_values')
        if limit:
            return int(limit)
    return state.settings.max_values


def _with_edr_conformance(response: Response) -> Response:
    response.headers = Headers(response.headers)
    if not (response.mimetype or '').endswith('json'):
        return response
    document = orjson.loads(response.get_data())
    listed = document.setdefault('conformsTo', [])
    listed += [c for c in EDR_CONFORMANCE if c not in listed]
    response.set_data(orjson.dumps(document))
    return response


def _chain(first: bytes, rest):
    yield first
    yield from rest
