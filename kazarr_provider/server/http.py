"""HTTP helpers for our views: request parameters, format negotiation, JSON and error responses."""
from __future__ import annotations

import orjson
from flask import Response, request

from ..errors import InvalidParameter, KazarrError, status_of


def json_response(status: int, body: dict, headers: dict | None = None, content_type: str | None = None) -> Response:
    if content_type:
        return Response(orjson.dumps(body), status=status, headers=headers or {}, content_type=content_type)
    return Response(orjson.dumps(body), status=status, headers=headers or {}, mimetype='application/json')


def error_response(error: KazarrError) -> Response:
    status = status_of(error)
    if status == 204:
        # 204 has no body: the reason travels in a header
        response = Response(status=204, headers={'Kazarr-No-Data-Reason': error.description[:500]})
        del response.headers['Content-Type']     # no body, so no media type
        return response
    return json_response(status, error.body())


def wants_json() -> bool:
    """pygeoapi's own choice between its HTML and JSON documents (`f`, else Accept)."""
    f = (request.args.get('f') or '').strip().lower()
    if f:
        return f == 'json'
    accept = request.headers.get('Accept') or ''
    return 'text/html' not in accept.lower()


def request_params() -> dict:
    """Query string, form and JSON body in one mapping (POST carries long coords)."""
    params = _single_values(request.args)
    if request.method != 'POST':
        return params
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:          # nesting deeper than the parser goes; silent=True does not catch it
            body = None
        if not isinstance(body, dict):
            raise InvalidParameter('body: expected a JSON object of query parameters', 'body')
        posted = {str(k): _json_text(str(k), v) for k, v in body.items()}
    else:
        posted = _single_values(request.form)
    both = sorted(set(params) & set(posted))
    if both:
        raise InvalidParameter(f'{both[0]}: given both in the query string and in the body; give it once', both[0])
    return {**params, **posted}


def _json_text(key: str, value) -> str:
    """A JSON body value as the text the same parameter has in a URL: a number, or a list joined by commas."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None or isinstance(value, dict):
        raise InvalidParameter(f'{key}: expected a string, a number or a list of them, got '
                               f'{"null" if value is None else type(value).__name__}', key)
    if isinstance(value, list):
        return ','.join(_json_text(key, item) for item in value)
    return repr(value) if isinstance(value, float) else str(value)


def _single_values(multidict) -> dict:
    """One value per parameter: a parameter given twice would otherwise keep one of them without a word."""
    out = {}
    for key, values in multidict.lists():
        if len(values) > 1:
            raise InvalidParameter(f'{key}: given {len(values)} times; give it once (lists are comma-separated)',
                                   key)
        out[key] = values[0]
    return out
