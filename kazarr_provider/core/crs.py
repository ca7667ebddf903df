"""Which CRS a variable's x/y are in, and the affine transform of its grid.

The order follows the GeoZarr reading rules: zarr-conventions geo-proj
(`proj:code`/`proj:wkt2`/`proj:projjson` on the array, then on its direct
parent group), CF `grid_mapping` (`crs_wkt`, `spatial_ref`, else the CF
parameters), GDAL's `_CRS` (`url`, `wkt`, `projjson`), the older `proj:epsg`,
and CRS84 only when the coordinates are CF latitude/longitude.
"""
from __future__ import annotations

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
               lonlat_axes: bool) -> Detected | None:
    """The CRS of one variable's horizontal coordinates, or None when nothing says."""
    for finder in (lambda: _from_proj(variable_attrs, 'array'), lambda: _from_proj(group_attrs, 'group'),
                   lambda: _from_grid_mapping(variable_attrs, grid_mappings),
                   lambda: _from_gdal(variable_attrs, 'array'), lambda: _from_gdal(group_attrs, 'group')):
        found = finder()
        if found:
            return found
    for attrs, where in ((variable_attrs, 'array'), (group_attrs, 'group')):
        if attrs.get('proj:epsg'):
            found = _parse(f"EPSG:{int(attrs['proj:epsg'])}", f'{where} proj:epsg')
            if found:
                return found
    if lonlat_axes:
        return Detected(CRS84, 'CF latitude/longitude coordinates')
    return None


def affine_from_attrs(variable_attrs: dict, group_attrs: dict, grid_mappings: dict[str, dict]):
    """(a, b, c, d, e, f) in rasterio order, corner origin, from spatial:transform or GeoTransform."""
    for attrs in (variable_attrs, group_attrs):
        transform = attrs.get('spatial:transform')
        if transform is not None and len(transform) == 6:
            return tuple(float(v) for v in transform), 'spatial:transform'
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


def crs_uri(crs: CRS) -> str | None:
    """The OGC URI of a CRS with an authority code (EPSG, OGC), else None."""
    if crs == CRS84 or crs.to_string() == 'OGC:CRS84':
        return 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'
    authority = crs.to_authority()
    if authority:
        return f'http://www.opengis.net/def/crs/{authority[0]}/0/{authority[1]}'
    return None


def same_crs(text: str, crs: CRS) -> bool:
    """Whether a request's `crs` value names `crs` (URI, AUTH:CODE or anything pyproj reads)."""
    try:
        asked = CRS.from_user_input(text)
    except CRSError:
        return False
    return asked == crs or asked.equals(crs, ignore_axis_order=True)
