"""What the pages show, worked out from the JSON documents the APIs answer: extents and parameters in words,
coverages' cell outlines in lon/lat. No Flask: the views in `pages.py` hand these to the templates."""
from __future__ import annotations

import math

import numpy as np

GEOGRAPHIC = ('http://www.opengis.net/def/crs/OGC/1.3/CRS84', 'http://www.opengis.net/def/crs/EPSG/0/4326',
              'OGC:CRS84', 'EPSG:4326', 'CRS84')
CRS84_URI = GEOGRAPHIC[0]


def extents(extent: dict) -> list[dict]:
    """Rows (name, what, details) of the computed extents, in reading order."""
    rows = []
    spatial = extent.get('spatial') or {}
    if spatial.get('bbox'):
        west, south, east, north = spatial['bbox'][0][:4]
        details = [f'CRS: {spatial.get("crs", CRS84_URI)}']
        if spatial.get('storageCrs'):
            details.append(f'storage CRS: {spatial["storageCrs"]}')
        if spatial.get('storageCrsBbox'):
            details.append('in the storage CRS: ' + ', '.join(number(v) for v in spatial['storageCrsBbox'][0]))
        for axis, grid in zip(('x', 'y'), spatial.get('grid') or []):
            text = f'{axis}: {grid.get("cellsCount")} cells'
            if 'resolution' in grid:
                text += f', resolution {number(grid["resolution"])} from {number(grid.get("firstCoordinate"))}'
            details.append(text)
        rows.append({'name': 'spatial', 'what': f'west {number(west)}, south {number(south)}, '
                                                f'east {number(east)}, north {number(north)}',
                     'details': details})
    temporal = extent.get('temporal') or {}
    if temporal.get('interval'):
        start, end = temporal['interval'][0]
        details = [f'TRS: {temporal["trs"]}'] if temporal.get('trs') else []
        grid = temporal.get('grid') or {}
        if grid.get('resolution'):
            details.append(f'{grid.get("cellsCount")} steps every {duration(grid["resolution"])} '
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


def parameters(document: dict) -> list[dict]:
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


def coverages(document: dict) -> list[dict]:
    if document.get('type') == 'CoverageCollection':
        return document.get('coverages') or []
    return [document]


def xy_system(document: dict, coverage: dict) -> str | None:
    for ref in (coverage.get('domain') or {}).get('referencing') or document.get('referencing') or []:
        if 'x' in ref.get('coordinates', []):
            return (ref.get('system') or {}).get('id')
    return None


def axis(axis: dict) -> np.ndarray:
    if 'values' in axis:
        return np.asarray(axis['values'], dtype='float64')
    return np.linspace(axis['start'], axis['stop'], int(axis['num']))


def edges(centres: np.ndarray) -> np.ndarray:
    if centres.size == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    middle = (centres[:-1] + centres[1:]) / 2
    return np.concatenate([[2 * centres[0] - middle[0]], middle, [2 * centres[-1] - middle[-1]]])


def lonlat_helpers(document: dict) -> dict:
    """For coverages whose x/y are in a projected CRS: lon/lat of grid cell corners or of points, by index.

    Browsers have no PROJ; pyproj computes here what the map needs to place the data."""
    from pyproj import CRS, Transformer
    out = {}
    for index, coverage in enumerate(coverages(document)):
        system = xy_system(document, coverage)
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
                out[str(index)] = {'points': rounded(np.stack([lon, lat], axis=-1))}
            continue
        if 'x' not in axes or 'y' not in axes:
            continue
        xs, ys = axis(axes['x']), axis(axes['y'])
        if (coverage.get('domain') or {}).get('domainType') == 'Grid' or document.get('domainType') == 'Grid':
            ex, ey = np.meshgrid(edges(xs), edges(ys))
            lon, lat = transformer.transform(ex, ey)
            out[str(index)] = {'corners': {'lon': rounded(lon.reshape(-1)), 'lat': rounded(lat.reshape(-1)),
                                           'nx': int(ex.shape[1]), 'ny': int(ex.shape[0])}}
        else:
            px, py = np.meshgrid(xs, ys)
            lon, lat = transformer.transform(px.reshape(-1), py.reshape(-1))
            out[str(index)] = {'points': rounded(np.stack([lon, lat], axis=-1))}
    return out


def rounded(array: np.ndarray) -> list:
    array = np.where(np.isfinite(array), np.round(array, 6), np.nan)
    return [None if isinstance(v, float) and math.isnan(v) else v for v in array.tolist()] if array.ndim == 1 \
        else [[None if math.isnan(v) else v for v in row] for row in array.tolist()]


# ---- processes and jobs ------------------------------------------------------------------------------


def number(value) -> str:
    if value is None:
        return ''
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        return f'{value:.6g}' if abs(value) < 1e-3 or abs(value) >= 1e6 else f'{round(value, 6)}'
    return str(value)


def duration(iso: str) -> str:
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
    return f'{number(seconds)} seconds'
