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
from copy import deepcopy

import orjson
from flask import Response, request
from werkzeug.datastructures import Headers

from . import metadata
from .catalogue import Catalogue, OpenDataset, get_dataset
from .errors import InvalidParameter, KazarrError, NotFound
from .formats import to_covjson
from .openapi_doc import EDR_PATH, INSTANCES_PATH, write_runtime_files
from .service import encoded
from .settings import Settings
from .storage import Location, parse_location
from .web import error_response, json_response, negotiate_format, request_params

LOGGER = logging.getLogger(__name__)

COLLECTION_PATH = re.compile(r'^/collections(?:/([^/]+))?/?$')
SUPPORTED_QUERIES = set(metadata.QUERY_TYPES)

DEFAULT_CONFIG = {
    'server': {'bind': {'host': '127.0.0.1', 'port': 5000}, 'url': 'http://localhost:5000',
               'mimetype': 'application/json; charset=UTF-8', 'encoding': 'utf-8', 'language': 'en-US',
               'pretty_print': False, 'limits': {'default_items': 10, 'max_items': 50},
               'map': {'url': 'https://tile.openstreetmap.org/{z}/{x}/{y}.png',
                       'attribution': 'OpenStreetMap contributors'}},
    'logging': {'level': 'WARNING'},
    'metadata': {'identification': {'title': 'kazarr_provider', 'description': 'GeoZarr datasets over OGC API',
                                    'keywords': ['zarr'], 'terms_of_service': '', 'url': ''},
                 'license': {'name': 'CC-BY 4.0', 'url': 'https://creativecommons.org/licenses/by/4.0/'},
                 'provider': {'name': 'kazarr_provider', 'url': ''},
                 'contact': {'name': 'operator'}},
    'resources': {},
}


def load_base_config(path: str) -> dict:
    """Our config file with `${VAR}` / `${VAR:-default}` expanded (pygeoapi's own loader)."""
    from pygeoapi.util import yaml_load
    if not os.path.exists(path):
        LOGGER.warning('config %s not found; using built-in defaults', path)
        return deepcopy(DEFAULT_CONFIG)
    with open(path, encoding='utf8') as fh:
        return yaml_load(fh)


class AppState:
    """The catalogue and the pygeoapi config derived from it."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.base = load_base_config(settings.config_path)
        root = parse_location(settings.datasets_path or '', settings.bucket) \
            if settings.datasets_path or settings.bucket else None
        self.catalogue = Catalogue(root, settings.refresh_seconds)
        self.ours: dict[str, Location] = {}    # collection id -> store, for every collection we serve
        self._last_token = 0.0
        self.config = self.build_config()

    def build_config(self) -> dict:
        config = deepcopy(self.base)
        config.setdefault('server', {})['url'] = self.settings.public_url
        config['server'].setdefault('bind', {}).update(host=self.settings.host, port=self.settings.port)
        resources = {}
        ours = {}
        for ident, resource in (config.get('resources') or {}).items():
            providers = resource.get('providers', [])
            edr = next((p for p in providers if p.get('name') == metadata.PROVIDER), None)
            if edr is None:
                resources[ident] = resource
                continue
            location = parse_location(str(edr['data']))
            try:
                opened = get_dataset(location)
            except KazarrError as error:
                LOGGER.warning('skipping configured collection %s: %s', ident, error.description)
                continue
            resources[ident] = metadata.pygeoapi_resource(ident, str(location), opened.model, resource)
            ours[ident] = location
        for ident, opened in self.catalogue.usable().items():
            if ident in resources:
                LOGGER.warning('discovered %s shadowed by a configured collection of that id', opened.path)
                continue
            resources[ident] = metadata.pygeoapi_resource(ident, str(opened.location), opened.model)
            ours[ident] = opened.location
        config['resources'] = resources
        self.ours = ours
        return config

    def dataset(self, ident: str) -> OpenDataset:
        location = self.ours.get(ident)
        if location is None:
            raise NotFound(f'collection {ident!r} not found', 'collectionId')
        return get_dataset(location, self.catalogue.signature(location))

    @property
    def refresh_token(self) -> str:
        return os.path.join(self.settings.state_dir, 'refresh-requested')

    def request_refresh(self):
        """Every worker re-lists on its next request: they all watch this file's mtime."""
        os.makedirs(self.settings.state_dir, exist_ok=True)
        with open(self.refresh_token, 'w') as fh:
            fh.write(str(os.getpid()))

    def _refresh_requested(self) -> bool:
        try:
            requested = os.stat(self.refresh_token).st_mtime
        except OSError:
            return False
        if requested > self._last_token:
            self._last_token = requested
            return True
        return False

    def refresh(self) -> bool:
        """Re-walk the datasets if due; True when the set changed and the config was rebuilt."""
        # a vanished store must leave at once: pygeoapi would fail to build its provider
        vanished = any(not loc.is_s3 and not os.path.isdir(loc.path) for loc in self.ours.values())
        forced = vanished or self._refresh_requested()
        if not self.catalogue.refresh(force=forced):
            return False
        self.config = self.build_config()
        return True


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

    def rebuild_if_changed():
        if state.refresh():
            LOGGER.info('the set of datasets changed: %s', sorted(state.ours))
            api.config['resources'].clear()
            api.config['resources'].update(state.config['resources'])
            api.tpl_config['resources'] = deepcopy(state.config['resources'])
            _, new_openapi = write_runtime_files(state, openapi_path)
            api.openapi.clear()
            api.openapi.update(load_openapi_document())

    @app.before_request
    def answer_ours():
        path = request.path[len(prefix):] if prefix and request.path.startswith(prefix) else request.path
        if path == '/health':
            return json_response(200, {'status': 'ok'})
        if path == '/catalogue/refresh' and request.method == 'POST':
            state.request_refresh()
            rebuild_if_changed()
            return json_response(200, {'collections': sorted(state.ours)})
        rebuild_if_changed()
        instances = INSTANCES_PATH.match(path)
        if instances and instances.group(1) in state.ours:
            return error_response(NotFound(f'collection {instances.group(1)!r} has no instances; query it directly '
                                           f'(/collections/{instances.group(1)}/position, ...)', 'instanceId'))
        match = EDR_PATH.match(path)
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
            media_type, body, level = encoded(opened, query_type, params, _max_values(state, ident), fmt)
            headers = {'Kazarr-Level': level} if level is not None else {}
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
