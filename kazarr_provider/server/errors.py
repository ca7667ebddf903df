"""Every error the application produces becomes a JSON body `{code, description}`: ours through the one
status table (`errors.STATUS`), Werkzeug's (404, 405, 413 body limit) with their headers kept, and any
other exception as a 500 that is logged, never shown."""
from __future__ import annotations

import logging

from flask import Flask, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..errors import KazarrError
from ..settings import Settings
from .http import error_response, json_response

LOGGER = logging.getLogger(__name__)

# OGC exception codes for the HTTP errors Werkzeug raises before a view runs
HTTP_CODES = {404: 'NotFound', 405: 'MethodNotAllowed', 406: 'NotAcceptable', 413: 'PayloadTooLarge',
              414: 'URITooLong', 431: 'RequestHeaderFieldsTooLarge'}
KEPT_HEADERS = ('Allow', 'Location', 'Retry-After')


def install_error_handlers(app: Flask, settings: Settings):
    app.config['MAX_CONTENT_LENGTH'] = settings.max_body_bytes
    # '//collections' would be a 308 redirect with an HTML body: a plain 404 is clearer
    app.url_map.merge_slashes = False
    for rule in app.url_map.iter_rules():
        rule.merge_slashes = False
        if not settings.cors:
            # OPTIONS answers only a CORS preflight; without CORS it is a method like any other: 405
            rule.methods.discard('OPTIONS')
            rule.provide_automatic_options = False

    @app.errorhandler(KazarrError)
    def ours(error: KazarrError):
        return error_response(error)

    @app.errorhandler(HTTPException)
    def http(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        description = error.description or error.name
        if isinstance(error, RequestEntityTooLarge):
            description = (f'the request body is larger than this server\'s limit of {settings.max_body_bytes:,} '
                           'bytes (MAX_BODY_BYTES)')
        original = error.get_response()
        headers = {k: v for k, v in original.headers.items() if k in KEPT_HEADERS}
        if error.code == 405:
            description = f'{request.method} is not allowed here; use {headers.get("Allow", "GET")}'
        elif error.code == 404:
            description = f'nothing at {request.path[:200]}; see /collections and /openapi'

        return json_response(error.code, {'code': HTTP_CODES.get(error.code, error.name.replace(' ', '')),
                                          'description': description}, headers)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        # a bug or an I/O failure: log it, never show it
        LOGGER.exception('unhandled error answering a request')
        return json_response(500, {'code': 'NoApplicableCode',
                                   'description': 'internal error while answering the request; see server log'})
