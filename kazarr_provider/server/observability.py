"""What an operator watches: `/metrics`, one access-log line per request with its request id, and the
bearer token of operator endpoints.

Every request is timed from the application's first `before_request` hook to the moment the WSGI server
closes its answer (after the last byte of a streamed body), then counted in the metrics by its URL rule and
logged as one JSON line on the `kazarr_provider.access` logger:

    {"time": ..., "request_id": ..., "method": "GET", "route": "/collections/<path:collection_id>/position",
     "path": "/collections/era5/position", "query": "coords=POINT(1 2)", "status": 200, "duration_ms": 12.3,
     "bytes": 5120, "remote_addr": "10.0.0.7", "user_agent": "...", "pid": 4242}

No request header is logged but the user agent (never Authorization). The request id is the client's
`X-Request-ID` when it is at most 128 characters of [A-Za-z0-9._-], else a new uuid4 (hex); either way it is
returned in the `X-Request-ID` response header.
"""
from __future__ import annotations

import datetime as dt
import hmac
import logging
import os
import re
import sys
import time
import uuid

import orjson
from flask import Flask, Response, g, request
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from .. import metrics
from ..settings import Settings
from .http import json_response

ACCESS_LOG = logging.getLogger('kazarr_provider.access')
REQUEST_ID_HEADER = 'X-Request-ID'
REQUEST_ID = re.compile(r'^[A-Za-z0-9._-]{1,128}$')
USER_AGENT_CHARS = 512


def install_observability(app: Flask, settings: Settings):
    """`GET /metrics`, request timing and the access log. Call before the error handlers are installed (they
    adjust every route's methods)."""
    from pygeoapi import flask_app
    _configure_access_log()
    prefix = flask_app.API_RULES.get_url_prefix('flask') or ''

    def start_request():
        g.kazarr_request = {'start': time.perf_counter(), 'time': time.time(), 'id': _request_id()}
        metrics.HTTP_IN_PROGRESS.inc()

    def finish_request(response: Response) -> Response:
        started = g.pop('kazarr_request', None)
        if started is None:
            return response
        response.headers[REQUEST_ID_HEADER] = started['id']
        entry = _entry(started, response.status_code)
        body = _body_bytes(response)
        if response.direct_passthrough:
            # a file handed to the server as is: werkzeug calls no close hook for it, so it counts now
            _record(entry, started['start'], body[0])
        else:
            response.call_on_close(lambda: _record(entry, started['start'], body[0]))
        return response

    def failed_request(error):
        # an answer after_request never saw (an exception no handler turned into a response)
        started = g.pop('kazarr_request', None)
        if started is not None:
            _record(_entry(started, 500), started['start'], 0)

    # first of all hooks, so that the time a snapshot swap or a body check takes is counted too
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)
    app.after_request(finish_request)
    app.teardown_request(failed_request)

    def metrics_view():
        state = app.config.get('KAZARR_JOBS')
        extra = []
        if state is not None:
            from ..jobs.store import STATUSES
            extra.append(metrics.JobsCollector(lambda status: state.store.count(status=status), STATUSES))
        return Response(metrics.exposition(extra), status=200, content_type=CONTENT_TYPE_PLAIN_0_0_4)

    app.add_url_rule(f'{prefix}/metrics', 'kazarr.metrics', metrics_view, methods=['GET'])


def operator_denied(token: str | None) -> Response | None:
    """None when the request may use an operator endpoint: no token is configured (REFRESH_TOKEN unset),
    or it carries `Authorization: Bearer <token>`. Otherwise a 401 to answer."""
    if not token:
        return None
    scheme, _, given = (request.headers.get('Authorization') or '').strip().partition(' ')
    if scheme.lower() == 'bearer' and given.strip():
        if hmac.compare_digest(given.strip().encode('latin-1', 'replace'), token.encode('utf-8')):
            return None
        challenge, description = 'Bearer error="invalid_token"', 'the bearer token is not the one configured'
    else:
        challenge, description = 'Bearer', 'this operator endpoint requires Authorization: Bearer <REFRESH_TOKEN>'
    return json_response(401, {'code': 'Unauthorized', 'description': description},
                         headers={'WWW-Authenticate': challenge})


def _request_id() -> str:
    given = request.headers.get(REQUEST_ID_HEADER, '')
    return given if REQUEST_ID.match(given) else uuid.uuid4().hex


def _entry(started: dict, status: int) -> dict:
    """What the log line says about the request (read now: a streamed body ends outside the request)."""
    rule = request.url_rule
    return {
        'time': dt.datetime.fromtimestamp(started['time'], dt.timezone.utc).isoformat(timespec='milliseconds'),
        'request_id': started['id'],
        'method': request.method,
        'route': rule.rule if rule is not None else None,
        'path': request.path,
        'query': request.query_string.decode('latin-1'),
        'status': status,
        'remote_addr': request.remote_addr,
        'user_agent': (request.headers.get('User-Agent') or '')[:USER_AGENT_CHARS],
        'pid': os.getpid(),
    }


def _body_bytes(response: Response) -> list[int]:
    """[bytes of the body]: known now, or counted as a streamed body is sent (a list, filled in later)."""
    if request.method == 'HEAD' or response.status_code in (204, 304) or response.status_code < 200:
        return [0]
    if not response.is_streamed or response.direct_passthrough:
        return [response.calculate_content_length() or response.content_length or 0]
    if response.content_length is not None:
        return [response.content_length]
    box = [0]
    response.response = _Counted(response.response, box)
    return box


class _Counted:
    """A streamed body that counts the bytes it gives; closing it closes the body it wraps."""

    def __init__(self, body, box: list[int]):
        self.body, self.box = body, box

    def __iter__(self):
        for chunk in self.body:
            self.box[0] += len(chunk.encode() if isinstance(chunk, str) else chunk)
            yield chunk

    def close(self):
        close = getattr(self.body, 'close', None)
        if close is not None:
            close()


def _record(entry: dict, start: float, sent: int):
    seconds = time.perf_counter() - start
    metrics.HTTP_IN_PROGRESS.dec()
    metrics.observe_request(entry['method'], entry['route'], entry['status'], seconds)
    ACCESS_LOG.info('%s', orjson.dumps({**entry, 'duration_ms': round(seconds * 1000, 3), 'bytes': sent})
                    .decode())


def _configure_access_log():
    """The access log is JSON lines on stderr, apart from the application's own log format, unless the
    operator configured the `kazarr_provider.access` logger already."""
    if ACCESS_LOG.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter('%(message)s'))
    ACCESS_LOG.addHandler(handler)
    ACCESS_LOG.setLevel(logging.INFO)
    ACCESS_LOG.propagate = False
