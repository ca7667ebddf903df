"""Which CRS a variable's x/y are in, and the affine transform of its grid.

The order follows the GeoZarr reading rules: zarr-conventions geo-proj
(`proj:code`/`proj:wkt2`/`proj:projjson` on the array, then on its direct
parent group), CF `grid_mapping` (`crs_wkt`, `spatial_ref`, else the CF
parameters), GDAL's `_CRS` (`url`, `wkt`, `projjson`), the older `proj:epsg`,
and CRS84 only when the coordinates are CF latitude/longitude.
"""
from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass

import numpy as np
from pyproj import CRS
from pyproj.exceptions import CRSError

LOGGER = logging.getLogger(__name__)

PROJ_UUID = 'f17cb550-5864-4468-aeb7-f3180cfb622f'
SPATIAL_UUID = '689b58e2-cf7b-45e0-9fff-9cfc0883d6b4'
MULTISCALES_UUID = 'd35379db-88df-4056-af3a-620245f8e347'
CRS84 = CRS.from_user_input('OGC:CRS84')


@dataclass
class Detected:
    crs: CRS
    source: str                 # which attribute said so, for logs and metadata


def declares(attrs: dict, uuid: str) -> bool:
    """Whether `attrs` declare the zarr-convention `uuid` in `zarr_conventions`."""
    conventions = attrs.get('zarr_conventions') or []
    return any(isinstance(c, dict) and c.get('uuid') == uuid for c in conventions)


def _parse(value, source: str) -> Detected | None:
    try:
        if isinstance(value, dict):
            return Detected(CRS.from_json_dict(value), source)
        if isinstance(value, str) and value.strip().startswith('{'):
            return Detected(CRS.from_json(value), source)
        return Detected(CRS.from_user_input(value), source)
    except (CRSError, TypeError, ValueError) as error:
        LOGGER.warning('ignoring unreadable CRS in %s: %s', source, error)
        return None


def _from_proj(attrs: dict, where: str) -> Detected | None:
    keys = ('proj:code', 'proj:wkt2', 'proj:projjson')
    if not any(k in attrs for k in keys):
        return None
    if attrs.get('zarr_conventions') and not declares(attrs, PROJ_UUID):
        LOGGER.info('%s has proj: attributes without declaring the geo-proj convention; reading them anyway', where)
    for key in keys:
        if attrs.get(key):
            found = _parse(attrs[key], f'{where} {key}')
            if found:
                return found
    return None


def _from_grid_mapping(variable_attrs: dict, grid_mappings: dict[str, dict]) -> Detected | None:
    name = variable_attrs.get('grid_mapping')
    if not name:
        return None
    attrs = grid_mappings.get(str(name).split(':')[0].strip())
    if attrs is None:
        LOGGER.warning('grid_mapping %s names no variable', name)
        return None
    for key in ('crs_wkt', 'spatial_ref'):
        if attrs.get(key):
            found = _parse(attrs[key], f'grid_mapping {name} {key}')
            if found:
                return found
    try:
        return Detected(CRS.from_cf(attrs), f'grid_mapping {name} CF parameters')
    except (CRSError, KeyError, ValueError) as error:
        LOGGER.warning('grid_mapping %s not understood: %s', name, error)
        return None


def _from_gdal(attrs: dict, where: str) -> Detected | None:
    value = attrs.get('_CRS')
    if not value:
        return None
    if isinstance(value, str):
        value = json.loads(value) if value.strip().startswith('{') else {'wkt': value}
    for key in ('url', 'wkt', 'projjson'):
        if value.get(key):
            found = _parse(value[key], f'{where} _CRS.{key}')
            if found:
                return found
    return None


def detect_crs(variable_attrs: dict, group_attrs: dict, grid_mappings: dict[str, dict],
               lonlat_axes: bool, parent_attrs: dict | None = None,
               inherited: tuple[object, str] | None = None) -> Detected | None:
    """The CRS of one variable's horizontal coordinates, or None when nothing says.

    `parent_attrs` are the attributes of the group above the variable's group (the multiscale
    group of a level, the product root of a resolution group): geo-proj attributes declared there
    are inherited after the array's and its own group's. `inherited` is a (CRS text, source) a
    parent declares by other means (GeoZarr 0.4 `tile_matrix_set.crs`), tried after everything the
    variable and its group say and before the CF latitude/longitude fallback.
    """
    parent_attrs = parent_attrs or {}
    for finder in (lambda: _from_proj(variable_attrs, 'array'), lambda: _from_proj(group_attrs, 'group'),
                   lambda: _from_proj(parent_attrs, 'parent group'),
                   lambda: _from_grid_mapping(variable_attrs, grid_mappings),
                   lambda: _from_gdal(variable_attrs, 'array'), lambda: _from_gdal(group_attrs, 'group'),
                   lambda: _from_gdal(parent_attrs, 'parent group')):
        found = finder()
        if found:
            return found
    for attrs, where in ((variable_attrs, 'array'), (group_attrs, 'group'), (parent_attrs, 'parent group')):
        if attrs.get('proj:epsg'):
            found = _parse(f"EPSG:{int(attrs['proj:epsg'])}", f'{where} proj:epsg')
            if found:
                return found
    if inherited is not None and inherited[0]:
        found = _parse(inherited[0], inherited[1])
        if found:
            if lonlat_axes and not found.crs.is_geographic:
                LOGGER.warning('%s says %s but the coordinates are CF latitude/longitude: using CRS84',
                               inherited[1], inherited[0])
            else:
                return found
    if lonlat_axes:
        return Detected(CRS84, 'CF latitude/longitude coordinates')
    return None


def tile_matrix_set_crs(attrs: dict) -> str | None:
    """The `crs` of a GeoZarr 0.4 `multiscales.tile_matrix_set` in a multiscale group's attributes."""
    multiscales = attrs.get('multiscales')
    if isinstance(multiscales, list) and multiscales:
        multiscales = multiscales[0]
    matrices = multiscales.get('tile_matrix_set') if isinstance(multiscales, dict) else None
    if not isinstance(matrices, dict):
        return None
    crs = matrices.get('crs') or matrices.get('supportedCRS')
    if isinstance(crs, dict):            # OGC TMS 2.0 allows {"uri": ...} or {"wkt": ...}
        crs = crs.get('uri') or crs.get('wkt')
    return str(crs) if crs else None


def layout_item(attrs: dict, asset: str) -> dict | None:
    """The zarr-conventions `multiscales.layout` item describing the level `asset`, if any."""
    multiscales = attrs.get('multiscales')
    if isinstance(multiscales, list) and multiscales:
        multiscales = multiscales[0]
    layout = multiscales.get('layout') if isinstance(multiscales, dict) else None
    for item in layout or []:
        if isinstance(item, dict) and str(item.get('asset')) == str(asset):
            return item
    return None


def affine_from_attrs(variable_attrs: dict, group_attrs: dict, grid_mappings: dict[str, dict],
                      layout: dict | None = None):
    """(a, b, c, d, e, f) in rasterio order, corner origin, and where it was found.

    In the GeoZarr order: the multiscales layout item's `spatial:transform`, the array's, its
    group's, then CF `GeoTransform` (GDAL order, a string) on the grid_mapping variable.
    """
    for attrs, where in ((layout or {}, 'multiscales layout spatial:transform'),
                         (variable_attrs, 'spatial:transform'), (group_attrs, 'spatial:transform')):
        transform = attrs.get('spatial:transform')
        if transform is not None and len(transform) == 6:
            return tuple(float(v) for v in transform), where
    mapping = grid_mappings.get(str(variable_attrs.get('grid_mapping', '')).split(':')[0].strip(), {})
    text = mapping.get('GeoTransform') or variable_attrs.get('GeoTransform')
    if text:
        c, a, b, f, d, e = (float(v) for v in str(text).split())
        return (a, b, c, d, e, f), 'GeoTransform'
    return None, None


def check_transform(transform, x: np.ndarray, y: np.ndarray, source: str, where: str) -> str | None:
    """Compare an attribute transform with the coordinates (which win); a message when they disagree."""
    if transform is None or x.size < 2 or y.size < 2:
        return None
    a, b, c, d, e, f = transform
    if b or d:
        return f'{where}: {source} is rotated; the 1-D coordinates are used'
    centres_x = c + a * (np.arange(x.size) + 0.5)
    centres_y = f + e * (np.arange(y.size) + 0.5)
    tolerance_x, tolerance_y = abs(a) * 1e-3, abs(e) * 1e-3
    if np.allclose(centres_x, x, rtol=0, atol=tolerance_x) and np.allclose(centres_y, y, rtol=0, atol=tolerance_y):
        return None
    corners_x, corners_y = c + a * np.arange(x.size), f + e * np.arange(y.size)
    if np.allclose(corners_x, x, rtol=0, atol=tolerance_x) and np.allclose(corners_y, y, rtol=0, atol=tolerance_y):
        return f'{where}: {source} is half a pixel off the coordinates (corner vs centre); the coordinates are used'
    return f'{where}: {source} disagrees with the coordinates (stale attribute?); the coordinates are used'


AUTHORITY_CONFIDENCE = 25      # pyproj's candidates this low are checked numerically before being named


@functools.lru_cache(maxsize=256)
def _authority_of_wkt(wkt: str) -> tuple[str, str] | None:
    crs = CRS.from_wkt(wkt)
    # a CRS rebuilt from CF parameters (no crs_wkt) loses its identifiers and its axis
    # descriptions, so pyproj only gives it a low confidence of being e.g. EPSG:3413: a candidate
    # below pyproj's usual 70 is accepted only when it projects sample points to the same place
    candidates = sorted(crs.list_authority(min_confidence=AUTHORITY_CONFIDENCE),
                        key=lambda m: (-m.confidence, {'EPSG': 0, 'OGC': 1}.get(m.auth_name, 2)))
    for match in candidates:
        if match.confidence >= 70:
            return match.auth_name, match.code
        try:
            candidate = CRS.from_authority(match.auth_name, match.code)
        except CRSError:
            continue
        if _same_numerically(candidate, crs):
            return match.auth_name, match.code
    return None


def _same_numerically(candidate: CRS, crs: CRS) -> bool:
    """Whether lon/lat points of the candidate's area of use land at the same x/y (1 mm, 1e-8 degree) in both."""
    from pyproj import Transformer
    if candidate.is_geographic != crs.is_geographic or candidate.is_projected != crs.is_projected:
        return False
    area = candidate.area_of_use
    west, south, east, north = area.bounds if area else (-180.0, -80.0, 180.0, 80.0)
    if east < west:
        east += 360.0
    lon, lat = np.meshgrid(np.linspace(west, east, 7), np.linspace(max(south, -89.0), min(north, 89.0), 7))
    lon = np.mod(lon + 180.0, 360.0) - 180.0
    try:
        x1, y1 = Transformer.from_crs(CRS84, candidate, always_xy=True).transform(lon, lat)
        x2, y2 = Transformer.from_crs(CRS84, crs, always_xy=True).transform(lon, lat)
    except Exception:  # pragma: no cover - a pyproj failure means "not proven the same"
        return False
    ok = np.isfinite(x1) & np.isfinite(y1)
    if not ok.any() or not np.array_equal(ok, np.isfinite(x2) & np.isfinite(y2)):
        return False
    tolerance = 1e-8 if crs.is_geographic else 1e-3
    return bool(np.allclose(x1[ok], x2[ok], rtol=0, atol=tolerance)
                and np.allclose(y1[ok], y2[ok], rtol=0, atol=tolerance))


def authority(crs: CRS) -> tuple[str, str] | None:
    """(authority, code) naming `crs`, also when it was rebuilt from CF parameters; None if none is equivalent."""
    return _authority_of_wkt(crs.to_wkt())


def crs_uri(crs: CRS) -> str | None:
    """The OGC URI of a CRS with an authority code (EPSG, OGC), else None."""
    # asked on every collection document and answer: pyproj's identification costs tens of ms for a CRS
    # rebuilt from CF parameters, so it is worked out once per CRS
    return _uri_of_wkt(crs.to_wkt())


def crs_name(crs: CRS) -> str:
    """pyproj's short name of a CRS (`EPSG:32632`, else its PROJ string or WKT), worked out once per CRS."""
    return _name_of_wkt(crs.to_wkt())


@functools.lru_cache(maxsize=256)
def _name_of_wkt(wkt: str) -> str:
    found = _authority_of_wkt(wkt)
    return f'{found[0]}:{found[1]}' if found else CRS.from_wkt(wkt).to_string()


@functools.lru_cache(maxsize=256)
def _uri_of_wkt(wkt: str) -> str | None:
    crs = CRS.from_wkt(wkt)
    if crs == CRS84 or crs.to_string() == 'OGC:CRS84':
        return 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'
    found = authority(crs)
    if found == ('OGC', 'CRS84'):
        return 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'
    if found:
        return f'http://www.opengis.net/def/crs/{found[0]}/0/{found[1]}'
    return None


def same_crs(text: str, crs: CRS) -> bool:
    """Whether a request's `crs` value names `crs` (URI, AUTH:CODE or anything pyproj reads)."""
    try:
        asked = CRS.from_user_input(text)
    except CRSError:
        return False
    if asked == crs or asked.equals(crs, ignore_axis_order=True):
        return True
    named = authority(crs)
    return named is not None and named == authority(asked)
