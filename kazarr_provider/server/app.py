"""The WSGI application: pygeoapi's Flask app with our view functions swapped in.

pygeoapi serves the landing page, OpenAPI, HTML and every collection that is not ours. For ours, three of
its views are replaced (each falls back to pygeoapi's own for other collections): the EDR query view
(pygeoapi answers a datetime outside the extent with 400, sends CoverageJSON as application/json and
serialises through `json.dumps`), and the collection and conformance views, which answer the JSON
documents the current snapshot computed once. One error handler turns every exception into JSON.
"""
from __future__ import annotations

import logging
import os

from flask import Response, request

from ..api.coverages import adapter as coverages
from ..api.declarations import QUERY_TYPES
from ..api.negotiation import negotiate_format
from ..api.service import encoded
from ..errors import InvalidParameter, NotFound
from ..settings import Settings
from .cors import install_cors
from .errors import install_error_handlers
from .http import json_response, request_params, wants_json
from .observability import install_observability, operator_denied
from . import pages
from .processes import install_processes
from .pygeoapi_host import write_runtime_files
from .snapshot import AppState

LOGGER = logging.getLogger(__name__)

EDR_ENDPOINT = 'pygeoapi.get_collection_edr_query'
COLLECTIONS_ENDPOINT = 'pygeoapi.collections'
CONFORMANCE_ENDPOINT = 'pygeoapi.conformance'
COVERAGE_ENDPOINT = 'pygeoapi.collection_coverage'
SCHEMA_ENDPOINT = 'pygeoapi.collection_schema'


def create_app(settings: Settings | None = None, openapi_path: str | None = None):
    settings = settings or Settings.from_env()
    state = AppState(settings)
    config_file, openapi_file = write_runtime_files(state.current, settings.state_dir, openapi_path)
    os.environ['PYGEOAPI_CONFIG'] = config_file
    os.environ['PYGEOAPI_OPENAPI'] = openapi_file
    from pygeoapi import flask_app   # reads the two files above at import

    app = flask_app.APP
    prefix = flask_app.API_RULES.get_url_prefix('flask') or ''
    state.publish = lambda snapshot: setattr(flask_app, 'api_', snapshot.pygeoapi)
    state.publish(state.current)
    state.ensure_refresher()      # in the worker (the app is built after the fork), not at its first request

    original = {name: app.view_functions[name] for name in (EDR_ENDPOINT, COLLECTIONS_ENDPOINT, CONFORMANCE_ENDPOINT,
                                                            COVERAGE_ENDPOINT, SCHEMA_ENDPOINT)}

    @app.before_request
    def take_prepared_snapshot():
        """A snapshot prepared by the refresh thread (or POST /catalogue/refresh) becomes current: no I/O."""
        state.refresh()

    def edr_view(collection_id, instance_id=None, location_id=None):
        snapshot = state.current
        if collection_id not in snapshot.ours:
            if collection_id not in snapshot.config['resources']:
                raise NotFound(f'collection {collection_id!r} not found', 'collectionId')
            return original[EDR_ENDPOINT](collection_id, instance_id, location_id)
        rule = request.url_rule.rule
        if '/instances' in rule[len(prefix):]:
            raise NotFound(f'collection {collection_id!r} has no instances; query it directly '
                           f'(/collections/{collection_id}/position, ...)', 'instanceId')
        query_type = 'locations' if location_id is not None else rule.rsplit('/', 1)[-1]
        if query_type not in QUERY_TYPES:
            raise InvalidParameter(f'{query_type} queries are not offered by this collection; '
                                   f'it offers {", ".join(QUERY_TYPES)}', 'queryType')
        params = request_params()
        if pages.asks_html(params):
            return pages.edr_page(snapshot, collection_id, query_type, params)
        fmt = negotiate_format(params.get('f'), request.headers.get('Accept'))
        media_type, body, headers = encoded(snapshot.dataset(collection_id), query_type, params,
                                            snapshot.max_values(collection_id), fmt)
        if isinstance(body, bytes):
            return Response(body, status=200, mimetype=media_type, headers=headers)
        # streamed: the first slice is encoded now, so encoding errors still become a 4xx/5xx
        body = iter(body)
        first = next(body, b'')
        return Response(_chain(first, body), status=200, mimetype=media_type, headers=headers)

    def collections_view(collection_id=None):
        snapshot = state.current
        if wants_json():
            document = snapshot.collection_json(collection_id)
            if document is not None:
                return Response(document, status=200, mimetype='application/json')
        elif collection_id in snapshot.ours and pages.page_requested():
            return pages.collection_page(snapshot, collection_id)
        return original[COLLECTIONS_ENDPOINT](collection_id)

    def conformance_view():
        if wants_json():
            return Response(state.current.conformance_json, status=200, mimetype='application/json')
        return original[CONFORMANCE_ENDPOINT]()

    def coverage_view(collection_id):
        snapshot = state.current
        if collection_id not in snapshot.ours:
            if collection_id not in snapshot.config['resources']:
                raise NotFound(f'collection {collection_id!r} not found', 'collectionId')
            return original[COVERAGE_ENDPOINT](collection_id)
        if pages.asks_html(request.args):
            return pages.coverage_page(snapshot, collection_id)
        media_type, body, headers = coverages.answer_request(snapshot.dataset(collection_id), request.args,
                                                             request.headers, snapshot.max_values(collection_id))
        return Response(body, status=200, mimetype=None, content_type=media_type, headers=headers)

    def coverage_part_view(collection_id, part):
        document = coverages.document(state.current.dataset(collection_id), part,
                                      f'{settings.public_url}/collections/{collection_id}')
        return json_response(200, document, content_type='application/schema+json' if part == 'schema' else None)

    def schema_view(collection_id):
        if collection_id not in state.current.ours:
            return original[SCHEMA_ENDPOINT](collection_id)
        return coverage_part_view(collection_id, 'schema')

    app.view_functions[EDR_ENDPOINT] = edr_view
    app.view_functions[COVERAGE_ENDPOINT] = coverage_view
    app.view_functions[SCHEMA_ENDPOINT] = schema_view
    for part in ('domainset', 'rangetype'):
        app.add_url_rule(f'{prefix}/collections/<path:collection_id>/coverage/{part}', f'kazarr.coverage_{part}',
                         coverage_part_view, methods=['GET'], defaults={'part': part})
    app.view_functions[COLLECTIONS_ENDPOINT] = collections_view
    app.view_functions[CONFORMANCE_ENDPOINT] = conformance_view
    for query_type in QUERY_TYPES:
        # pygeoapi declares EDR queries as GET only; POST carries coordinates too long for a URL
        app.add_url_rule(f'{prefix}/collections/<path:collection_id>/{query_type}', endpoint=EDR_ENDPOINT,
                         methods=['POST'])

    def health():
        return json_response(200, {'status': 'ok'})

    def refresh_catalogue():
        denied = operator_denied(settings.refresh_token)
        if denied is not None:
            return denied
        state.refresh_on_demand()
        state.refresh()
        return json_response(200, {'collections': sorted(state.current.ours)})

    app.add_url_rule(f'{prefix}/health', 'kazarr.health', health, methods=['GET'])
    app.add_url_rule(f'{prefix}/catalogue/refresh', 'kazarr.refresh', refresh_catalogue, methods=['POST'])
    app.config['KAZARR_JOBS'] = install_processes(app, state, settings, prefix)
    pages.install_assets(app, prefix)
    install_observability(app, settings)
    install_error_handlers(app, settings)
    install_cors(app, settings.cors_origins)
    app.config['KAZARR_STATE'] = state
    return app


def _chain(first: bytes, rest):
    yield first
    yield from rest
