"""HTML pages a person can use, in pygeoapi's style, working without internet access.

pygeoapi renders its own pages (landing page, collections list, conformance, OpenAPI) with our copies
of the few templates that loaded scripts and styles from CDNs (`templates/`, configured as
`server.templates`). Our collections, EDR answers (`f=html`), coverage previews and the Processes and
jobs pages are rendered here from the JSON documents our views compute, with the same `_base.html`.

Scripts and styles come from the server itself: our own files under `static/` (also pygeoapi's static
folder, `server.templates.static`, so its logo and default.css are there too), Leaflet from the
XStatic-Leaflet package, Bootstrap's CSS from bootstrap-wrapper and Swagger UI from swagger-ui-bundle, each
served by a route below from where pip installed it. Maps use Leaflet without any tile layer: a graticule,
the data's bounds and the data.
"""
from __future__ import annotations

from pathlib import Path

import orjson
from flask import Response, request, send_from_directory
from markupsafe import Markup

from ..api.negotiation import accepted
from . import page_data
from .page_data import CRS84_URI
from ..errors import NotFound

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / 'templates'
STATIC = HERE / 'static'
ASSETS_PREFIX = '/static-kazarr'
PREVIEW_CELLS = 256          # a preview asks at most this many cells along each axis
HTML = 'text/html; charset=utf-8'


def template_config() -> dict:
    """pygeoapi's `server.templates`: our templates first (pygeoapi's are still found after them), our static."""
    return {'path': str(TEMPLATES), 'static': str(STATIC)}


# ---- assets ------------------------------------------------------------------------------------------

def asset_dirs() -> dict[str, Path]:
    """{name: directory} of the third-party files served under /static-kazarr/<name>/ (from their packages)."""
    out = {'kazarr': STATIC}
    try:
        import xstatic.pkg.leaflet as leaflet
        out['leaflet'] = Path(leaflet.BASE_DIR)
    except ImportError:
        pass
    try:
        import bootstrap_wrapper
        out['bootstrap'] = Path(bootstrap_wrapper.get_bootstrap_dir())
    except ImportError:
        pass
    try:
        import swagger_ui_bundle
        out['swagger-ui'] = Path(swagger_ui_bundle.swagger_ui_path)
    except ImportError:
        pass
    return out


def install_assets(app, prefix: str):
    dirs = asset_dirs()

    def asset(package, filename):
        directory = dirs.get(package)
        if directory is None:
            raise NotFound(f'no static package {package!r}', 'path')
        return send_from_directory(directory, filename, max_age=86400)

    app.add_url_rule(f'{prefix}{ASSETS_PREFIX}/<package>/<path:filename>', 'kazarr.asset', asset, methods=['GET'])


# ---- negotiation -------------------------------------------------------------------------------------

def asks_html(params) -> bool:
    """`f=html` named explicitly (EDR and Coverages answers: Accept never turns them into pages)."""
    return str(params.get('f') or '').strip().lower() == 'html'


def prefers_html() -> bool:
    """`f=html`, or no `f` and an Accept header that ranks text/html above JSON (a browser); JSON otherwise."""
    f = (request.args.get('f') or '').strip().lower()
    if f:
        return f == 'html'
    html = json = 0.0
    for media, _, quality in accepted(request.headers.get('Accept')):
        if media in ('text/html', 'application/xhtml+xml'):
            html = max(html, quality)
        elif media.endswith('json'):
            json = max(json, quality)
    return html > 0 and html > json


def page_requested() -> bool:
    """pygeoapi's own rule for its HTML documents: `f=html`, else text/html anywhere in Accept."""
    f = (request.args.get('f') or '').strip().lower()
    if f:
        return f == 'html'
    return 'text/html' in (request.headers.get('Accept') or '').lower()


# ---- rendering ---------------------------------------------------------------------------------------

def render(snapshot, template: str, data: dict, status: int = 200) -> Response:
    from pygeoapi.util import render_j2_template
    api = snapshot.pygeoapi
    data.setdefault('links', [])
    data.setdefault('assets', f"{api.tpl_config['server']['url']}{ASSETS_PREFIX}")
    text = render_j2_template(api.tpl_config, {'path': str(TEMPLATES)}, template, data, api.default_locale)
    return Response(text, status=status, content_type=HTML)


def inline_json(value) -> Markup:
    """JSON for a <script type="application/json"> element: no `<` survives, so no `</script>` either."""
    return Markup(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode().replace('<', '\\u003c'))


def _alternates(url: str, formats) -> list[dict]:
    return [{'rel': 'alternate', 'type': media, 'title': name, 'href': _with_query(url, f=name)}
            for name, media in formats]


def _with_query(url: str, **params) -> str:
    from urllib.parse import urlencode
    query = [(k, v) for k, v in request.args.items(multi=True) if k not in params]
    query += [(k, v) for k, v in params.items() if v is not None]
    return f'{url}?{urlencode(query)}' if query else url


# ---- collections -------------------------------------------------------------------------------------

def collection_page(snapshot, collection_id: str) -> Response:
    document = orjson.loads(snapshot.collection_json(collection_id))
    base = snapshot.pygeoapi.tpl_config['server']['url']
    url = f'{base}/collections/{collection_id}'
    data = dict(document)
    data['collections_path'] = f'{base}/collections'
    preview, parameters = _preview(document, url), page_data.parameters(document)
    data['kazarr'] = {
        'extents': page_data.extents(document.get('extent') or {}),
        'parameters': parameters,
        'dimensions': (document.get('kazarr:metadata') or {}).get('dimensions') or {},
        'queries': _queries(document, url),
        'coverage': [link for link in document.get('links', []) if 'ogc/1.0/coverage' in link.get('rel', '')
                     or link.get('rel', '').endswith('/schema')],
        'preview': preview,
        'json': inline_json({'preview': preview, 'parameters': parameters}),
    }
    return render(snapshot, 'kazarr/collection.html', data)


def _queries(document: dict, url: str) -> list[dict]:
    """The EDR queries on offer, each with an example answer drawn as a page (f=html)."""
    from urllib.parse import urlencode
    from ..api.declarations import QUERY_TYPES
    extent = document.get('extent') or {}
    bbox = ((extent.get('spatial') or {}).get('bbox') or [[-180, -90, 180, 90]])[0]
    west, south, east, north = bbox[:4]
    cx, cy = (west + east) / 2, (south + north) / 2
    # a box of about a fifth of each side around the centre: an answer small enough to look at
    dx, dy = (east - west) / 10, (north - south) / 10
    slices = {}
    times = (extent.get('temporal') or {}).get('values') or []
    if times:
        slices['datetime'] = times[-1]
    levels = (extent.get('vertical') or {}).get('values') or []
    if levels:
        slices['z'] = str(levels[0])
    examples = {
        'position': {'coords': f'POINT({page_data.number(cx)} {page_data.number(cy)})'},
        'radius': {'coords': f'POINT({page_data.number(cx)} {page_data.number(cy)})', 'within': '200', 'within-units': 'km',
                   **slices},
        'area': {'coords': 'POLYGON(({0} {1},{2} {1},{2} {3},{0} {3},{0} {1}))'.format(
            *(page_data.number(v) for v in (cx - dx, cy - dy, cx + dx, cy + dy))), **slices},
        'cube': {'bbox': ','.join(page_data.number(v) for v in (cx - dx, cy - dy, cx + dx, cy + dy)), **slices},
        'trajectory': {'coords': 'LINESTRING({} {},{} {})'.format(
            *(page_data.number(v) for v in (cx - dx, cy - dy, cx + dx, cy + dy))), **slices},
        'corridor': {'coords': 'LINESTRING({} {},{} {})'.format(
            *(page_data.number(v) for v in (cx - dx, cy - dy, cx + dx, cy + dy))), 'corridor-width': '100',
            'width-units': 'km', **slices},
    }
    rows = []
    for name, query in (document.get('data_queries') or {}).items():
        link = query.get('link') or {}
        declared = QUERY_TYPES.get(name)
        example = examples.get(name)
        rows.append({'name': name, 'href': link.get('href', f'{url}/{name}'),
                     'summary': declared.summary if declared else '',
                     'parameters': list(declared.parameters) if declared else [],
                     'formats': (link.get('variables') or {}).get('output_formats') or [],
                     'example': f"{link.get('href', f'{url}/{name}')}?{urlencode({**example, 'f': 'html'})}"
                     if example else None})
    return rows


def _preview(document: dict, url: str) -> dict:
    """What the collection page's map asks for: a small coverage (or, without Coverages, an EDR cube)."""
    extent = document.get('extent') or {}
    spatial = extent.get('spatial') or {}
    bbox = (spatial.get('bbox') or [[-180, -90, 180, 90]])[0]
    # the field shown first: the one with the most dimensions (a time-varying field over a constant flag)
    variables = (document.get('kazarr:metadata') or {}).get('variables') or {}
    params = sorted(document.get('parameter_names') or {},
                    key=lambda name: -len((variables.get(name) or {}).get('dimensions') or []))
    offers_coverage = any('ogc/1.0/coverage' in link.get('rel', '') for link in document.get('links', []))
    slices = []        # Coverages subsets fixing time and every other dimension to one value
    if (extent.get('temporal') or {}).get('interval'):
        slices.append('time(*)')
    for key, value in extent.items():
        if key in ('spatial', 'temporal', 'vertical', 'custom') or not isinstance(value, dict):
            continue
        coordinates = (value.get('grid') or {}).get('coordinates') or []
        if coordinates:
            first = coordinates[0]
            slices.append(f'{key}({orjson.dumps(first).decode() if isinstance(first, str) else page_data.number(first)})')
    grid = spatial.get('grid') or []
    nx = (grid[0].get('cellsCount') if grid else None) or PREVIEW_CELLS
    west, south, east, north = bbox[:4]
    span_x = (east - west) if east > west else east - west + 360
    width = max(1, min(int(nx), PREVIEW_CELLS))
    height = max(1, min(PREVIEW_CELLS, round(width * (north - south) / span_x) if span_x else width))
    edr = {}
    times = (extent.get('temporal') or {}).get('values') or []
    if times:
        edr['datetime'] = times[-1]
    levels = (extent.get('vertical') or {}).get('values') or []
    if levels:
        edr['z'] = str(levels[0])
    if params:
        edr['parameter-name'] = params[0]
    edr['bbox'] = ','.join(page_data.number(v) for v in bbox[:4])
    return {'bbox': bbox[:4], 'coverage': offers_coverage, 'coverage_url': f'{url}/coverage',
            'cube_url': f'{url}/cube', 'width': width, 'height': height, 'subset': slices,
            'crs': CRS84_URI, 'properties': params[:1], 'edr': edr,
            'times': times, 'dimensions': {k: (v.get('grid') or {}).get('coordinates') or []
                                           for k, v in extent.items()
                                           if k not in ('spatial', 'temporal', 'vertical', 'custom')
                                           and isinstance(v, dict)}}


def coverage_page(snapshot, collection_id: str) -> Response:
    document = orjson.loads(snapshot.collection_json(collection_id))
    base = snapshot.pygeoapi.tpl_config['server']['url']
    url = f'{base}/collections/{collection_id}'
    preview = _preview(document, url)
    given = [(k, v) for k, v in request.args.items(multi=True) if k != 'f']
    data = {'id': collection_id, 'title': document.get('title', collection_id),
            'description': document.get('description', ''), 'collections_path': f'{base}/collections',
            'links': _alternates(f'{url}/coverage', (('CoverageJSON', 'application/vnd.cov+json'),
                                                     ('GeoTIFF', 'image/tiff; application=geotiff'),
                                                     ('NetCDF', 'application/x-netcdf'))),
            'json': inline_json({'preview': preview, 'given': given, 'parameters': page_data.parameters(document)})}
    return render(snapshot, 'kazarr/coverage.html', data)


# ---- EDR answers -------------------------------------------------------------------------------------

def edr_page(snapshot, collection_id: str, query_type: str, params: dict) -> Response:
    """The same answer as CoverageJSON, inlined in a page that draws it on a map and lists it in a table."""
    from ..api.service import coverage_document
    asked = {k: v for k, v in params.items() if k != 'f'}
    coverage = coverage_document(snapshot.dataset(collection_id), query_type, asked,
                                 snapshot.max_values(collection_id))
    document = orjson.loads(snapshot.collection_json(collection_id))
    base = snapshot.pygeoapi.tpl_config['server']['url']
    url = f'{base}/collections/{collection_id}/{query_type}'
    from ..formats import FORMATS
    data = {'id': collection_id, 'title': document.get('title', collection_id), 'query_type': query_type,
            'collections_path': f'{base}/collections', 'asked': asked,
            'links': _alternates(url, FORMATS.items()),
            'notice': coverage.get('kazarr:notice'), 'level': coverage.get('kazarr:level'),
            'json': inline_json({'coverage': coverage, 'geo': page_data.lonlat_helpers(coverage),
                                 'parameters': page_data.parameters(document)})}
    return render(snapshot, 'kazarr/edr.html', data)


def processes_page(snapshot, document: dict) -> Response:
    base = snapshot.pygeoapi.tpl_config['server']['url']
    return render(snapshot, 'kazarr/processes.html', {**document, 'base': base})


def process_page(snapshot, document: dict) -> Response:
    base = snapshot.pygeoapi.tpl_config['server']['url']
    example = orjson.dumps(document.get('example') or {'inputs': {}}, option=orjson.OPT_INDENT_2).decode()
    inputs = [{'id': name, **spec, 'schema_text': orjson.dumps(spec.get('schema') or {},
                                                               option=orjson.OPT_INDENT_2).decode()}
              for name, spec in (document.get('inputs') or {}).items()]
    outputs = [{'id': name, **spec, 'schema_text': orjson.dumps(spec.get('schema') or {},
                                                                option=orjson.OPT_INDENT_2).decode()}
               for name, spec in (document.get('outputs') or {}).items()]
    return render(snapshot, 'kazarr/process.html', {**document, 'base': base, 'example_text': example,
                                                    'input_rows': inputs, 'output_rows': outputs})


def jobs_page(snapshot, document: dict) -> Response:
    base = snapshot.pygeoapi.tpl_config['server']['url']
    return render(snapshot, 'kazarr/jobs.html', {**document, 'base': base})


def job_page(snapshot, document: dict, record) -> Response:
    base = snapshot.pygeoapi.tpl_config['server']['url']
    outputs = [{'id': name, 'media_type': item.get('media_type'),
                'href': f'{base}/jobs/{record.job_id}/results/{name}'}
               for name, item in (record.result or {}).items()] if record.status == 'successful' else []
    inputs = orjson.dumps(record.inputs or {}, option=orjson.OPT_INDENT_2).decode()
    return render(snapshot, 'kazarr/job.html', {
        **document, 'base': base, 'inputs_text': inputs, 'outputs': outputs, 'error': record.error,
        'json': inline_json({'status': document, 'outputs': outputs,
                             'status_url': f'{base}/jobs/{record.job_id}?f=json'})})

