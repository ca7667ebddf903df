"""`kazarr-provider validate STORE`: per convention, what a store declares, lacks or contradicts.

Conventions checked: CF (`Conventions`, `_FillValue` on floats, units, grid_mapping, time units and
calendar), geo-proj (`proj:code`/`proj:wkt2`/`proj:projjson`: readable, registered, agreeing with
the CF grid_mapping), spatial (`spatial:dimensions`, `spatial:shape` and `spatial:transform` against
the arrays and their coordinates), multiscales (each level present, its shape and transform
consistent with its layout item and with level 0 scaled), and consolidated metadata (present, and
not stale). A finding is `ok`, `missing` (optional, absent), `warning` or `error`.

The checks run on plain views of groups (attributes, arrays with dims, shapes and attributes,
coordinate values), built either from a store on disk/S3 (`validate_store.inspect_store`, used by the
command) or from the datasets the server already opened (`log_findings`: no extra read at all).
"""
from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field

import numpy as np
from pyproj import CRS

from ..core.crs import authority, check_transform

LOGGER = logging.getLogger(__name__)
CONVENTIONS = ('CF', 'geo-proj', 'spatial', 'multiscales', 'consolidated metadata')
PROJ_UUID = 'f17cb550-5864-4468-aeb7-f3180cfb622f'
SPATIAL_UUID = '689b58e2-cf7b-45e0-9fff-9cfc0883d6b4'
MULTISCALES_UUID = 'd35379db-88df-4056-af3a-620245f8e347'


@dataclass
class ArrayView:
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: np.dtype
    attrs: dict
    values: object = None           # loader (callable) or values of a 1-D coordinate; None if unknown


@dataclass
class GroupView:
    name: str | None
    attrs: dict
    arrays: dict[str, ArrayView] = field(default_factory=dict)

    def coordinate(self, dim: str) -> np.ndarray | None:
        array = self.arrays.get(dim)
        if array is None or array.values is None:
            return None
        if callable(array.values):
            array.values = array.values()
        return np.asarray(array.values, dtype='float64')


@dataclass
class Finding:
    convention: str
    severity: str                   # ok | missing | warning | error
    message: str


def _declared(attrs: dict, uuid: str) -> bool:
    return any(isinstance(c, dict) and c.get('uuid') == uuid for c in attrs.get('zarr_conventions') or [])


def _where(group: GroupView, name: str | None = None) -> str:
    parts = [p for p in (group.name, name) if p]
    return '/'.join(parts) or 'root'


def _data_arrays(group: GroupView) -> dict[str, ArrayView]:
    return {name: a for name, a in group.arrays.items()
            if name not in a.dims and len(a.dims) >= 2 and a.dtype.kind in 'fiub' and 'cf_role' not in a.attrs
            and not ({'grid_mapping_name', 'crs_wkt'} & set(a.attrs))}


def _has_fill(array: ArrayView) -> bool:
    return array.attrs.get('_FillValue') is not None or array.attrs.get('missing_value') is not None


def _spatial_dims(group: GroupView, root: dict) -> tuple[str, str] | None:
    dims = group.attrs.get('spatial:dimensions') or root.get('spatial:dimensions')
    if isinstance(dims, (list, tuple)) and len(dims) >= 2:
        return str(dims[-2]), str(dims[-1])
    for array in _data_arrays(group).values():
        y, x = array.dims[-2:]
        return y, x
    return None


def check_cf(root: GroupView, groups: list[GroupView]) -> list[Finding]:
    out = []
    conventions = root.attrs.get('Conventions') or (groups[0].attrs.get('Conventions') if groups else None)
    out.append(Finding('CF', 'ok', f'Conventions: {conventions}') if conventions else
               Finding('CF', 'missing', 'no Conventions attribute'))
    for group in groups:
        for name, array in _data_arrays(group).items():
            where = _where(group, name)
            if array.dtype.kind == 'f' and not _has_fill(array):
                out.append(Finding('CF', 'error', f'{where}: float variable without _FillValue (xarray masks nothing '
                                                  'with the Zarr fill_value alone: missing chunks read as numbers)'))
            if 'units' not in array.attrs and not {'flag_values', 'flag_masks'} & set(array.attrs):
                out.append(Finding('CF', 'warning', f'{where}: no units'))
            mapping = array.attrs.get('grid_mapping')
            if mapping:
                target = group.arrays.get(str(mapping).split(':')[0].strip())
                if target is None:
                    out.append(Finding('CF', 'error', f'{where}: grid_mapping {mapping!r} names no variable'))
                elif not (target.attrs.get('crs_wkt') or target.attrs.get('grid_mapping_name')):
                    out.append(Finding('CF', 'error', f'{where}: grid_mapping {mapping!r} has neither crs_wkt nor '
                                                      'grid_mapping_name'))
        for name, array in group.arrays.items():
            if len(array.dims) == 1 and array.dims[0] == name and array.attrs.get('axis') == 'T' or (
                    name in ('time', 'valid_time') and len(array.dims) == 1):
                if 'units' not in array.attrs:
                    out.append(Finding('CF', 'error', f'{_where(group, name)}: time without units'))
                elif 'calendar' not in array.attrs:
                    out.append(Finding('CF', 'warning', f'{_where(group, name)}: time without calendar (standard '
                                                        'assumed)'))
            if len(array.dims) == 1 and array.dims[0] == name and array.dtype == np.float32 and \
                    array.attrs.get('axis') in ('X', 'Y'):
                out.append(Finding('CF', 'warning', f'{_where(group, name)}: float32 coordinates (cell positions '
                                                    'lose precision; float64 recommended)'))
    if groups and not any('_FillValue' in f.message for f in out):
        out.append(Finding('CF', 'ok', 'every float variable has a _FillValue'))
    return _merge_levels(out, groups)


def _merge_levels(found: list[Finding], groups: list[GroupView]) -> list[Finding]:
    """One finding for what every level says alike ('0/t: no units', '1/t: no units' -> 't (levels 0, 1): ...')."""
    names = {g.name for g in groups if g.name}
    merged: dict[tuple, list[str]] = {}
    for finding in found:
        head, sep, rest = finding.message.partition('/')
        key = (finding.convention, finding.severity, rest if sep and head in names else finding.message)
        merged.setdefault(key, []).append(head if sep and head in names else '')
    out = []
    for (convention, severity, message), levels in merged.items():
        levels = [level for level in levels if level]
        if len(levels) > 1:
            name, _, rest = message.partition(':')
            message = f'{name} (levels {", ".join(levels)}):{rest}'
        elif levels:
            message = f'{levels[0]}/{message}'
        out.append(Finding(convention, severity, message))
    return out


def _crs(value):
    if isinstance(value, dict):
        return CRS.from_json_dict(value)
    return CRS.from_user_input(value)


def check_proj(root: GroupView, groups: list[GroupView]) -> list[Finding]:
    out, found = [], []
    for group in [root] + groups:
        for key in ('proj:code', 'proj:wkt2', 'proj:projjson'):
            if group.attrs.get(key):
                try:
                    found.append((_where(group), key, _crs(group.attrs[key])))
                except Exception as error:
                    out.append(Finding('geo-proj', 'error', f'{_where(group)}: {key} unreadable ({error})'))
                if not _declared(group.attrs, PROJ_UUID):
                    out.append(Finding('geo-proj', 'warning', f'{_where(group)}: {key} without the geo-proj '
                                                              'convention registered in zarr_conventions'))
    if not found and not out:
        return [Finding('geo-proj', 'missing', 'no proj:code, proj:wkt2 or proj:projjson (the CRS comes from other '
                                               'attributes, or CF latitude/longitude)')]
    if found:
        where, key, crs = found[0]
        out.insert(0, Finding('geo-proj', 'ok', f'{where} {key}: {crs.name}'))
    for group in groups:
        for name, array in _data_arrays(group).items():
            mapping = group.arrays.get(str(array.attrs.get('grid_mapping', '')).split(':')[0].strip())
            wkt = mapping.attrs.get('crs_wkt') if mapping else None
            if not wkt or not found:
                continue
            try:
                cf = _crs(wkt)
            except Exception:
                continue
            crs = found[0][2]
            if not (cf == crs or cf.equals(crs, ignore_axis_order=True) or (authority(cf) and authority(cf) ==
                                                                             authority(crs))):
                out.append(Finding('geo-proj', 'error', f'{_where(group, name)}: grid_mapping crs_wkt ({cf.name}) '
                                                        f'disagrees with {found[0][1]} ({crs.name})'))
            break
    return out


def check_spatial(root: GroupView, groups: list[GroupView], layout: dict[str, dict]) -> list[Finding]:
    out = []
    for group in groups:
        item = layout.get(group.name or '', {})
        dims = _spatial_dims(group, root.attrs)
        data = _data_arrays(group)
        if 'spatial:dimensions' in group.attrs or 'spatial:dimensions' in root.attrs:
            bad = [n for n, a in data.items() if dims and not set(dims) <= set(a.dims)]
            if bad:
                out.append(Finding('spatial', 'error', f'{_where(group)}: spatial:dimensions {list(dims)} are not '
                                                       f'dimensions of {", ".join(bad)}'))
        if not dims or not data:
            continue
        sizes = next((dict(zip(a.dims, a.shape)) for a in data.values() if set(dims) <= set(a.dims)), None)
        if sizes is None:
            continue
        ny, nx = sizes[dims[0]], sizes[dims[1]]
        x, y = group.coordinate(dims[1]), group.coordinate(dims[0])
        for source, attrs in (('multiscales layout', item), ('group', group.attrs)):
            shape = attrs.get('spatial:shape')
            if shape is not None and [int(v) for v in shape[-2:]] != [ny, nx]:
                out.append(Finding('spatial', 'error', f'{_where(group)}: {source} spatial:shape {list(shape)} but the '
                                                       f'arrays are {ny} x {nx}'))
            transform = attrs.get('spatial:transform')
            if transform is None:
                continue
            if len(transform) != 6:
                out.append(Finding('spatial', 'error', f'{_where(group)}: {source} spatial:transform has '
                                                       f'{len(transform)} numbers, not 6'))
                continue
            if x is not None and y is not None:
                message = check_transform(tuple(float(v) for v in transform), x, y, f'{source} spatial:transform',
                                          _where(group))
                if message:
                    out.append(Finding('spatial', 'error', message.split('; the coordinates')[0]))
                else:
                    out.append(Finding('spatial', 'ok', f'{_where(group)}: {source} spatial:transform agrees with '
                                                        'the coordinates'))
        if any(k.startswith('spatial:') for k in group.attrs) and not _declared(group.attrs, SPATIAL_UUID):
            out.append(Finding('spatial', 'warning', f'{_where(group)}: spatial: attributes without the spatial '
                                                     'convention registered in zarr_conventions'))
    if not out:
        out.append(Finding('spatial', 'missing', 'no spatial:dimensions / spatial:transform'))
    return out


def check_multiscales(root: GroupView, groups: list[GroupView], layout_items: list[dict] | None) -> list[Finding]:
    if not layout_items:
        return [Finding('multiscales', 'missing', 'no multiscales layout (one resolution only)')]
    out = []
    if not _declared(root.attrs, MULTISCALES_UUID):
        out.append(Finding('multiscales', 'warning', 'multiscales without the convention registered in '
                                                     'zarr_conventions'))
    multiscales = root.attrs.get('multiscales') or {}
    by_name = {g.name: g for g in groups}
    base_item = next((i for i in layout_items if 'derived_from' not in i), layout_items[0])
    base_shape, base_transform = base_item.get('spatial:shape'), base_item.get('spatial:transform')
    for item in layout_items:
        name = str(item.get('asset'))
        if name not in by_name:
            out.append(Finding('multiscales', 'error', f'level {name}: listed in the layout but no such group'))
            continue
        if 'derived_from' in item:
            method = item.get('resampling_method') or multiscales.get('resampling_method')
            if not method:
                out.append(Finding('multiscales', 'warning', f'level {name}: no resampling_method recorded'))
            scale = (item.get('transform') or {}).get('scale')
            if not scale:
                out.append(Finding('multiscales', 'error', f'level {name}: derived_from without transform.scale'))
                continue
            shape, transform = item.get('spatial:shape'), item.get('spatial:transform')
            if base_shape and shape:
                expected = [int(n) / float(s) for n, s in zip(base_shape[-2:], scale[-2:])]
                if any(abs(int(n) - e) >= 1 for n, e in zip(shape[-2:], expected)):
                    out.append(Finding('multiscales', 'error', f'level {name}: shape {list(shape)} does not match its '
                                                               f'transform (scale {list(scale)} of '
                                                               f'{list(base_shape)}: about '
                                                               f'{[round(e, 1) for e in expected]})'))
            if base_transform and transform:
                cells = (abs(float(base_transform[0])) * float(scale[-1]), abs(float(base_transform[4])) *
                         float(scale[-2]))
                if not np.allclose([abs(float(transform[0])), abs(float(transform[4]))], cells, rtol=1e-6):
                    out.append(Finding('multiscales', 'error', f'level {name}: spatial:transform cell '
                                                               f'({transform[0]}, {transform[4]}) is not level '
                                                               f'{base_item.get("asset")} scaled by {list(scale)}'))
    if not [f for f in out if f.severity == 'error']:
        out.insert(0, Finding('multiscales', 'ok', f'{len(layout_items)} level(s): '
                                                   f'{", ".join(str(i.get("asset")) for i in layout_items)}'))
    return out


def _layout(root: GroupView) -> list[dict] | None:
    multiscales = root.attrs.get('multiscales')
    if isinstance(multiscales, list) and multiscales:
        multiscales = multiscales[0]
    layout = multiscales.get('layout') if isinstance(multiscales, dict) else None
    return [i for i in layout if isinstance(i, dict)] if layout else None


def findings(root: GroupView, groups: list[GroupView], consolidated: list[Finding] | None = None) -> list[Finding]:
    """Every finding for a store whose root is `root` and whose data groups are `groups` (its levels, or itself)."""
    items = _layout(root)
    layout = {str(i.get('asset')): i for i in items or []}
    out = check_cf(root, groups) + check_proj(root, groups) + check_spatial(root, groups, layout)
    out += check_multiscales(root, groups, items)
    return out + (consolidated or [])


# --- views ----------------------------------------------------------------------------------------

def _fill_attr(value, dtype: np.dtype):
    if isinstance(value, str) and dtype.kind == 'f' and value not in ('NaN', 'Infinity', '-Infinity'):
        try:
            return np.frombuffer(base64.standard_b64decode(value), dtype='float64')[0]
        except Exception:
            return value
    return value


def view_of_dataset(name: str | None, ds, root_attrs: dict | None = None) -> GroupView:
    """A group as the server opened it (xarray moved _FillValue, units and calendar of times to encoding)."""
    arrays = {}
    for var_name, var in ds.variables.items():
        attrs = dict(var.attrs)
        for key in ('_FillValue', 'missing_value', 'scale_factor', 'add_offset', 'units', 'calendar'):
            if key in var.encoding and key not in attrs:
                attrs[key] = var.encoding[key]
        dtype = np.dtype(var.encoding.get('dtype', var.dtype))
        values = var.values if var_name in ds.indexes and var.ndim == 1 and var.dtype.kind in 'fiu' else None
        arrays[str(var_name)] = ArrayView(tuple(map(str, var.dims)), tuple(var.shape), dtype, attrs, values)
    return GroupView(name, dict(ds.attrs), arrays)


def log_findings(store: str, root_attrs: dict, levels: list[tuple[str | None, object]]):
    """The server's check of a store it just opened: warnings and errors logged, nothing read again."""
    try:
        root = GroupView(None, dict(root_attrs))
        groups = [view_of_dataset(name, ds) for name, ds in levels]
        for finding in findings(root, groups):
            if finding.severity in ('warning', 'error'):
                LOGGER.warning('%s: %s %s: %s', store, finding.convention, finding.severity, finding.message)
    except Exception as error:  # a check must never stop a store from being served
        LOGGER.debug('%s: checks not run (%s)', store, type(error).__name__)
