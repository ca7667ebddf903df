"""`kazarr-provider validate STORE`: read a store's metadata (local or S3) and report `validate`'s findings.

Reads every group and array metadata document itself (not the consolidated copy), so that a stale
consolidated metadata can be told apart; 1-D coordinates are read only where a transform is checked.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import zarr

from ..data.storage import is_storage_error, storage_reason
from .target import open_store, read_json
from .validate import CONVENTIONS, ArrayView, Finding, GroupView, _data_arrays, _fill_attr, _layout, findings


class StoreUnreadable(Exception):
    pass


def _array_view(array, zarr_format: int) -> ArrayView:
    attrs = dict(array.attrs)
    if zarr_format == 2:
        dims = tuple(attrs.pop('_ARRAY_DIMENSIONS', None) or [f'dim_{i}' for i in range(array.ndim)])
        if '_FillValue' not in attrs and array.fill_value is not None:
            attrs['_FillValue'] = array.fill_value          # xarray reads a v2 fill_value as _FillValue
    else:
        names = array.metadata.dimension_names
        dims = tuple(names) if names else tuple(f'dim_{i}' for i in range(array.ndim))
    dtype = np.dtype(array.dtype)
    if '_FillValue' in attrs:
        attrs['_FillValue'] = _fill_attr(attrs['_FillValue'], dtype)
    values = None
    if array.ndim == 1 and dtype.kind in 'fiu':
        values = (lambda a=array: a[...])
    return ArrayView(tuple(map(str, dims)), tuple(array.shape), dtype, attrs, values)


def _group_view(group, name: str | None, zarr_format: int) -> GroupView:
    arrays = {str(key): _array_view(array, zarr_format) for key, array in group.arrays()}
    return GroupView(name, dict(group.attrs), arrays)


def _consolidated(store, plain, zarr_format: int) -> list[Finding]:
    if zarr_format == 3:
        document = read_json(store, 'zarr.json') or {}
        meta = (document.get('consolidated_metadata') or {}).get('metadata')
        shapes = {k: v.get('shape') for k, v in (meta or {}).items() if v.get('node_type') == 'array'}
    else:
        document = read_json(store, '.zmetadata')
        meta = (document or {}).get('metadata')
        shapes = {k[:-len('/.zarray')]: v.get('shape') for k, v in (meta or {}).items() if k.endswith('.zarray')}
    if meta is None:
        return [Finding('consolidated metadata', 'warning', 'none: every open reads each group and array metadata '
                                                            'object (slow on S3)')]
    out = []
    for path, array in _all_arrays(plain):
        if path not in shapes:
            out.append(Finding('consolidated metadata', 'error', f'stale: {path} is not in it'))
        elif list(shapes[path]) != list(array.shape):
            out.append(Finding('consolidated metadata', 'error', f'stale: {path} has shape {list(shapes[path])} in it '
                                                                 f'but {list(array.shape)} in its own metadata'))
    if not out:
        out.append(Finding('consolidated metadata', 'ok', f'{len(shapes)} arrays, matching their own metadata'))
    return out


def _all_arrays(group, prefix: str = ''):
    for key, array in group.arrays():
        yield f'{prefix}{key}', array
    for key, child in group.groups():
        yield from _all_arrays(child, f'{prefix}{key}/')


def inspect_store(target: str) -> list[Finding]:
    """Every finding for the store at `target` (a path or s3://bucket/prefix)."""
    store = open_store(target)
    if isinstance(store, str) and not os.path.isdir(store):
        raise StoreUnreadable(f'{target}: no such directory')
    try:
        plain = zarr.open_group(store, mode='r', use_consolidated=False)
    except Exception as error:
        raise StoreUnreadable(f'{target}: not a readable Zarr group ({type(error).__name__}: '
                              f'{str(error).splitlines()[0][:200] if str(error) else ""})') from None
    zarr_format = plain.metadata.zarr_format
    root = _group_view(plain, None, zarr_format)
    items = _layout(root)
    if items:
        names = [str(i.get('asset')) for i in items]
        children = dict(plain.groups())
        groups = [_group_view(children[n], n, zarr_format) for n in names if n in children]
    elif _data_arrays(root):
        groups = [root]
    else:
        groups = [_group_view(child, str(key), zarr_format) for key, child in plain.groups()]
    return findings(root, groups, _consolidated(store, plain, zarr_format))


def report(found: list[Finding], target: str, out) -> tuple[int, int]:
    errors = sum(f.severity == 'error' for f in found)
    warnings_ = sum(f.severity == 'warning' for f in found)
    print(f'{target}', file=out)
    for convention in CONVENTIONS:
        mine = [f for f in found if f.convention == convention]
        print(f'{convention}:', file=out)
        for finding in mine:
            print(f'  {finding.severity:<8} {finding.message}', file=out)
    print(f'{errors} error(s), {warnings_} warning(s)', file=out)
    return errors, warnings_


def run(target: str, out=None, err=None) -> int:
    """The command: 0 when no error is found, 1 when some is, 2 when the store cannot be read."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        found = inspect_store(target)
    except StoreUnreadable as error:
        print(f'kazarr-provider validate: error: {error}', file=err)
        return 2
    except Exception as error:
        reason = f'storage {storage_reason(error)}' if is_storage_error(error) else type(error).__name__
        print(f'kazarr-provider validate: error: {target}: cannot read ({reason})', file=err)
        return 2
    errors, _ = report(found, target, out)
    return 1 if errors else 0
