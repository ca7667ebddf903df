"""HTTP helpers for our routes: request parameters, format negotiation, error responses."""
from __future__ import annotations

import orjson
from flask import Response, request

from ..errors import InvalidParameter, KazarrError, status_of
from ..formats import ALIASES, DEFAULT_FORMAT, FORMATS


def json_response(status: int, body: dict, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(body), status=status, headers=headers or {}, mimetype='application/json')


def error_response(error: KazarrError) -> Response:
    status = status_of(error)
    if status == 204:
        # 204 has no body: the reason travels in a header
        return Response(status=204, headers={'Kazarr-No-Data-Reason': error.description[:500]})
    return json_response(status, error.body())


def negotiate_format(f: str | None, accept: str | None) -> str:
    if f:
        name = ALIASES.get(f.strip().lower()) or (f if f in FORMATS else None)
        if name is None:
            raise InvalidParameter(f'f: unknown output format {f!r}; expected one of '
                                   f'{", ".join(FORMATS)}', 'f')
        return name
    ranked = []
    for position, part in enumerate((accept or '').split(',')):
        media, *options = (p.strip() for p in part.split(';'))
        quality = 1.0
        for option in options:
            key, _, value = option.partition('=')
            if key.strip().lower() == 'q':
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media.lower() in ALIASES and quality > 0:
            ranked.append((-quality, position, ALIASES[media.lower()]))
    # the highest q wins; among equals, the one listed first (RFC 9110 section 12.5.1)
    return min(ranked)[2] if ranked else DEFAULT_FORMAT


def request_params() -> dict:
    """Query string, form and JSON body in one mapping (POST carries long coords)."""
    params = _single_values(request.args)
    if request.method == 'POST':
        if request.is_json:
            try:
                body = request.get_json(silent=True)
            except RecursionError:          # nesting deeper than the parser goes; silent=True does not catch it
                body = None
            if not isinstance(body, dict):
                raise InvalidParameter('body: expected a JSON object of query parameters', 'body')
            params.update({k: v if isinstance(v, str) else (
                ','.join(map(str, v)) if isinstance(v, list) else str(v)) for k, v in body.items()})
        else:
            params.update(_single_values(request.form))
    return params


def _single_values(multidict) -> dict:
    """One value per parameter: a parameter given twice would otherwise keep one of them without a word."""
    out = {}
    for key, values in multidict.lists():
        if len(values) > 1:
            raise InvalidParameter(f'{key}: given {len(values)} times; give it once (lists are comma-separated)',
                                   key)
        out[key] = values[0]
    return out
