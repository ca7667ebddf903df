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

import math
from pathlib import Path

import numpy as np
import orjson
from flask import Response, request, send_from_directory
from markupsafe import Markup

from ..api.negotiation import accepted
from ..errors import NotFound

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / 'templates'
STATIC = HERE / 'static'
ASSETS_PREFIX = '/static-kazarr'
GEOGRAPHIC = ('http://www.opengis.net/def/crs/OGC/1.3/CRS84', 'http://www.opengis.net/def/crs/EPSG/0/4326',
              'OGC:CRS84', 'EPSG:4326', 'CRS84')
CRS84_URI = GEOGRAPHIC[0]
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
    preview, parameters = _preview(document, url), _parameters(document)
    data['kazarr'] = {
        'extents': _extents(document.get('extent') or {}),
        'parameters': parameters,
        'dimensions': (document.get('kazarr:metadata') or {}).get('dimensions') or {},
        'queries': _queries(document, url),
        'coverage': [link for link in document.get('links', []) if 'ogc/1.0/coverage' in link.get('rel', '')
                     or link.get('rel', '').endswith('/schema')],
        'preview': preview,
        'json': inline_json({'preview': preview, 'parameters': parameters}),
    }
    return render(snapshot, 'kazarr/collection.html', data)


def _extents(extent: dict) -> list[dict]:
    """Rows (name, what, details) of the computed extents, in reading order."""
    rows = []
    spatial = extent.get('spatial') or {}
    if spatial.get('bbox'):
        west, south, east, north = spatial['bbox'][0][:4]
        details = [f'CRS: {spatial.get("crs", CRS84_URI)}']
        if spatial.get('storageCrs'):
            details.append(f'storage CRS: {spatial["storageCrs"]}')
        if spatial.get('storageCrsBbox'):
            details.append('in the storage CRS: ' + ', '.join(_number(v) for v in spatial['storageCrsBbox'][0]))
        for axis, grid in zip(('x', 'y'), spatial.get('grid') or []):
            text = f'{axis}: {grid.get("cellsCount")} cells'
            if 'resolution' in grid:
                text += f', resolution {_number(grid["resolution"])} from {_number(grid.get("firstCoordinate"))}'
            details.append(text)
        rows.append({'name': 'spatial', 'what': f'west {_number(west)}, south {_number(south)}, '
                                                f'east {_number(east)}, north {_number(north)}',
                     'details': details})
    temporal = extent.get('temporal') or {}
    if temporal.get('interval'):
        start, end = temporal['interval'][0]
        details = [f'TRS: {temporal["trs"]}'] if temporal.get('trs') else []
        grid = temporal.get('grid') or {}
        if grid.get('resolution'):
            details.append(f'{grid.get("cellsCount")} steps every {_duration(grid["resolution"])} '
                           f'(ISO 8601 {grid["resolution"]})')
        values = temporal.get('values') or []
        if values and not grid.get('resolution'):
            details.append(f'{len(values)} steps')
        rows.append({'name': 'temporal', 'what': f'{start or ".."} to {end or ".."}', 'details': details,
                     'values': values if len(values) <= 50 else values[:25] + ['…'] + values[-24:]})
    vertical = extent.get('vertical') or {}
    if vertical.get('interval'):
        low, high = vertical['interval'][0]
        details = [f'VRS: {vertical["vrs"]}'] if vertical.get('vrs') else []
        rows.append({'name': 'vertical', 'what': f'{low} to {high}', 'details': details,
                     'values': vertical.get('values') or []})
    for custom in extent.get('custom') or []:
        interval = (custom.get('interval') or [[None, None]])[0]
        rows.append({'name': custom.get('id'), 'what': f'{interval[0]} to {interval[1]}',
                     'details': [custom['reference']] if custom.get('reference') else [],
                     'values': custom.get('values') or []})
    for key, value in extent.items():
        if key in ('spatial', 'temporal', 'vertical', 'custom') or not isinstance(value, dict):
            continue
        # the Coverages axes (extent keys of OGC API - Coverages): one per other dimension
        grid = value.get('grid') or {}
        details = [f'Coverages axis {key!r}']
        if value.get('unit'):
            details.append(f'unit: {value["unit"]}')
        if value.get('definition'):
            details.append(f'definition: {value["definition"]}')
        interval = (value.get('interval') or [[None, None]])[0]
        rows.append({'name': key, 'what': f'{interval[0]} to {interval[1]}', 'details': details,
                     'values': grid.get('coordinates') or []})
    return rows


def _parameters(document: dict) -> list[dict]:
    variables = (document.get('kazarr:metadata') or {}).get('variables') or {}
    rows = []
    for ident, parameter in (document.get('parameter_names') or {}).items():
        unit = parameter.get('unit') or {}
        symbol = unit.get('symbol')
        if isinstance(symbol, dict):
            symbol = symbol.get('value')
        label = unit.get('label')
        if isinstance(label, dict):
            label = next(iter(label.values()), None)
        observed = parameter.get('observedProperty') or {}
        variable = variables.get(ident) or {}
        rows.append({'id': ident, 'label': observed.get('label') or parameter.get('description') or ident,
                     'description': parameter.get('description') or '', 'unit': symbol or label or '',
                     'observed': observed.get('id') or '', 'dimensions': variable.get('dimensions') or [],
                     'dtype': variable.get('dtype') or ''})
    return rows


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
        'position': {'coords': f'POINT({_number(cx)} {_number(cy)})'},
        'radius': {'coords': f'POINT({_number(cx)} {_number(cy)})', 'within': '200', 'within-units': 'km',
                   **slices},
        'area': {'coords': 'POLYGON(({0} {1},{2} {1},{2} {3},{0} {3},{0} {1}))'.format(
            *(_number(v) for v in (cx - dx, cy - dy, cx + dx, cy + dy))), **slices},
        'cube': {'bbox': ','.join(_number(v) for v in (cx - dx, cy - dy, cx + dx, cy + dy)), **slices},
        'trajectory': {'coords': 'LINESTRING({} {},{} {})'.format(
            *(_number(v) for v in (cx - dx, cy - dy, cx + dx, cy + dy))), **slices},
        'corridor': {'coords': 'LINESTRING({} {},{} {})'.format(
            *(_number(v) for v in (cx - dx, cy - dy, cx + dx, cy + dy))), 'corridor-width': '100',
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
            slices.append(f'{key}({orjson.dumps(first).decode() if isinstance(first, str) else _number(first)})')
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
    edr['bbox'] = ','.join(_number(v) for v in bbox[:4])
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
            'json': inline_json({'preview': preview, 'given': given, 'parameters': _parameters(document)})}
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
            'json': inline_json({'coverage': coverage, 'geo': lonlat_helpers(coverage),
                                 'parameters': _parameters(document)})}
    return render(snapshot, 'kazarr/edr.html', data)


def _coverages(document: dict) -> list[dict]:
    if document.get('type') == 'CoverageCollection':
        return document.get('coverages') or []
    return [document]


def _xy_system(document: dict, coverage: dict) -> str | None:
    for ref in (coverage.get('domain') or {}).get('referencing') or document.get('referencing') or []:
        if 'x' in ref.get('coordinates', []):
            return (ref.get('system') or {}).get('id')
    return None


def _axis(axis: dict) -> np.ndarray:
    if 'values' in axis:
        return np.asarray(axis['values'], dtype='float64')
    return np.linspace(axis['start'], axis['stop'], int(axis['num']))


def _edges(centres: np.ndarray) -> np.ndarray:
    if centres.size == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    middle = (centres[:-1] + centres[1:]) / 2
    return np.concatenate([[2 * centres[0] - middle[0]], middle, [2 * centres[-1] - middle[-1]]])


def lonlat_helpers(document: dict) -> dict:
    """For coverages whose x/y are in a projected CRS: lon/lat of grid cell corners or of points, by index.

    Browsers have no PROJ; pyproj computes here what the map needs to place the data."""
    from pyproj import CRS, Transformer
    out = {}
    for index, coverage in enumerate(_coverages(document)):
        system = _xy_system(document, coverage)
        if not system or system in GEOGRAPHIC:
            continue
        try:
            transformer = Transformer.from_crs(CRS.from_user_input(system), CRS.from_user_input('OGC:CRS84'),
                                               always_xy=True)
        except Exception:                       # a CRS pyproj cannot read: the page says it cannot place it
            out[str(index)] = {'error': f'cannot convert {system} to longitude/latitude'}
            continue
        axes = (coverage.get('domain') or {}).get('axes') or {}
        if 'composite' in axes:
            composite = axes['composite']
            names = composite.get('coordinates') or []
            tuples = composite.get('values') or []
            if 'x' in names and 'y' in names and tuples:
                xs = np.asarray([t[names.index('x')] for t in tuples], dtype='float64')
                ys = np.asarray([t[names.index('y')] for t in tuples], dtype='float64')
                lon, lat = transformer.transform(xs, ys)
                out[str(index)] = {'points': _rounded(np.stack([lon, lat], axis=-1))}
            continue
        if 'x' not in axes or 'y' not in axes:
            continue
        xs, ys = _axis(axes['x']), _axis(axes['y'])
        if (coverage.get('domain') or {}).get('domainType') == 'Grid' or document.get('domainType') == 'Grid':
            ex, ey = np.meshgrid(_edges(xs), _edges(ys))
            lon, lat = transformer.transform(ex, ey)
            out[str(index)] = {'corners': {'lon': _rounded(lon.reshape(-1)), 'lat': _rounded(lat.reshape(-1)),
                                           'nx': int(ex.shape[1]), 'ny': int(ex.shape[0])}}
        else:
            px, py = np.meshgrid(xs, ys)
            lon, lat = transformer.transform(px.reshape(-1), py.reshape(-1))
            out[str(index)] = {'points': _rounded(np.stack([lon, lat], axis=-1))}
    return out


def _rounded(array: np.ndarray) -> list:
    array = np.where(np.isfinite(array), np.round(array, 6), np.nan)
    return [None if isinstance(v, float) and math.isnan(v) else v for v in array.tolist()] if array.ndim == 1 \
        else [[None if math.isnan(v) else v for v in row] for row in array.tolist()]


# ---- processes and jobs ------------------------------------------------------------------------------

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


def _number(value) -> str:
    if value is None:
        return ''
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        return f'{value:.6g}' if abs(value) < 1e-3 or abs(value) >= 1e6 else f'{round(value, 6)}'
    return str(value)


def _duration(iso: str) -> str:
    """PT21600S -> '6 hours' (our extents give durations in seconds)."""
    text = iso.upper()
    if not (text.startswith('PT') and text.endswith('S')):
        return iso
    try:
        seconds = float(text[2:-1])
    except ValueError:
        return iso
    for unit, size in (('day', 86400), ('hour', 3600), ('minute', 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f'{count} {unit}{"s" if count != 1 else ""}'
    return f'{_number(seconds)} seconds'
