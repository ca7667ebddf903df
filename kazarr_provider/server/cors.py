"""Cross-origin access, when CORS_ORIGINS names the origins allowed (`*` for any).

Browsers send a preflight OPTIONS before a cross-origin POST with a JSON body; Flask answers it from the
route's methods (with CORS off, OPTIONS is a 405 like any method a route lacks). Every answer to an allowed
origin carries Access-Control-Allow-Origin and exposes our headers (no-data reason, level, notice, CRS,
request id).
"""
from __future__ import annotations

from flask import Flask, Response, request

EXPOSED = 'Content-Crs, Kazarr-No-Data-Reason, Kazarr-Level, Kazarr-Notice, X-Request-ID'
MAX_AGE = '600'


def install_cors(app: Flask, origins: tuple[str, ...]):
    if not origins:
        return
    any_origin = '*' in origins

    @app.after_request
    def allow_origin(response: Response) -> Response:
        origin = request.headers.get('Origin')
        if not origin or not (any_origin or origin in origins):
            return response
        response.headers['Access-Control-Allow-Origin'] = '*' if any_origin else origin
        if not any_origin:
            response.headers.add('Vary', 'Origin')
        response.headers['Access-Control-Expose-Headers'] = EXPOSED
        if request.method == 'OPTIONS':
            response.headers['Access-Control-Allow-Methods'] = response.headers.get('Allow', 'GET, HEAD')
            asked = request.headers.get('Access-Control-Request-Headers')
            if asked:
                response.headers['Access-Control-Allow-Headers'] = asked
            response.headers['Access-Control-Max-Age'] = MAX_AGE
        return response
