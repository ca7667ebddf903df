"""`--append`: new time steps onto an existing store and every level of its pyramid.

The inputs must match the store: same grid (x/y values), same variables on it, same other axes,
same calendar, and times after the store's last one; the first difference is named in the error.
The new steps are written in place but invisibly first: each array is extended in memory only,
its new chunks written beyond the shape its metadata declares, and only then is the metadata
grown (each array, then the history, then the consolidated metadata). A failure before that point
leaves the store exactly as it was to every reader (the chunks written past its end are not part
of it, and the next append overwrites them).
"""
from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

import numpy as np
import xarray as xr
import zarr
from xarray.coding.times import encode_cf_datetime
from zarr.core.array import AsyncArray

from . import ConvertError
from .compare import differences, iso_time
from .grid import describe
from .history import record
from .progress import Progress
from .pyramid import Level
from .reader import check_increasing, describe_size, expand_inputs, open_inputs, time_dim
from .target import as_convert_error, open_store
from .write import consolidate, copy_blocks, count_blocks, jsonable

LOGGER = logging.getLogger(__name__)


def _open_level(store, group: str, zarr_format: int) -> xr.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return xr.open_dataset(store, engine='zarr', group=group, chunks=None, consolidated=False,
                               zarr_format=zarr_format, decode_times=xr.coders.CFDatetimeCoder(use_cftime=None))


def _existing(store, output: str):
    try:
        root = zarr.open_group(store, mode='r+', use_consolidated=False)
    except Exception as error:
        raise ConvertError(f'{output}: no Zarr store to append to ({type(error).__name__})') from None
    layout = (root.attrs.get('multiscales') or {}).get('layout') if isinstance(root.attrs.get('multiscales'),
                                                                              dict) else None
    if not layout:
        raise ConvertError(f'{output}: not a multiscale store written by convert (no multiscales layout)')
    return root, layout


def _levels(layout: list[dict], datasets: dict[str, xr.Dataset], x: str, y: str) -> list[Level]:
    levels = []
    for item in layout:
        name = str(item['asset'])
        scale = (item.get('transform') or {}).get('scale') or [1.0, 1.0]
        ds = datasets[name]
        levels.append(Level(name, int(round(float(scale[-1]))), ds.sizes[y], ds.sizes[x], ds[y].values, ds[x].values,
                            tuple(item['spatial:transform']) if item.get('spatial:transform') else None))
    levels.sort(key=lambda level: level.factor)
    return levels


def _grown(array, new_length: int, axis: int):
    """The zarr array with its time axis grown in memory only (its metadata on storage is unchanged)."""
    shape = list(array.shape)
    shape[axis] = new_length
    inner = array._async_array
    return zarr.Array(AsyncArray(inner.metadata.update_shape(tuple(shape)), inner.store_path, inner.config))


def _with_store_encoding(schema, level0: xr.Dataset, layout: list[dict]):
    """Variables keep the store's dimension order, dtype, fill, packing and resampling method."""
    by_variable = {}
    for item in layout:
        by_variable.update(item.get('kazarr:resampling_by_variable') or {})
    for name, spec in schema.variables.items():
        var = level0[name]
        enc = var.encoding
        if set(var.dims) != set(spec.dims):
            raise ConvertError(f'the variables differ: {name} has dimensions {var.dims} in the store, {spec.dims} in '
                               'the input')
        spec.dims = tuple(map(str, var.dims))
        spec.dtype = np.dtype(enc.get('dtype', var.dtype))
        fill = enc.get('_FillValue')
        spec.fill = None if fill is None else (int(fill) if spec.dtype.kind in 'iu' else float(fill))
        if 'scale_factor' in enc or 'add_offset' in enc:
            spec.scale, spec.offset = float(enc.get('scale_factor', 1.0)), float(enc.get('add_offset', 0.0))
        else:
            spec.scale = spec.offset = None
        spec.method = by_variable.get(name, spec.method)


def append(options) -> dict:
    started = time.monotonic()
    paths = expand_inputs(options.inputs)
    output = options.output
    store = open_store(output)
    if isinstance(store, str) and not Path(store).exists():
        raise ConvertError(f'{output}: no such store to append to')
    root, layout = _existing(store, output)
    zarr_format = root.metadata.zarr_format
    names = [str(item['asset']) for item in layout]
    datasets = {name: _open_level(store, name, zarr_format) for name in names}
    level0 = datasets[names[0]]
    t = time_dim(level0)
    if t is None:
        raise ConvertError(f'{output}: the store has no time axis to append along')
    store_vars = [str(n) for n in level0.data_vars if level0[n].ndim >= 2]
    chosen = options.variables or None
    if chosen and set(store_vars) - set(chosen):
        extra = ', '.join(sorted(set(store_vars) - set(chosen)))
        raise ConvertError(f'the variables differ: the store also has {extra}, not among --variables')
    source = open_inputs(paths, chosen)
    if source.t != t:
        raise ConvertError(f'{paths[0]}: no time axis {t!r} like the store\'s')
    found = differences(level0, source.first, t, chosen, Path(output).name or output, paths[0].name)
    if found:
        more = f' (and {len(found) - 1} more difference(s))' if len(found) > 1 else ''
        raise ConvertError(f'{paths[0]}: cannot be appended to {output}: {found[0]}{more}')
    schema = describe(source, chosen or store_vars)
    _with_store_encoding(schema, level0, layout)
    old_times = np.asarray(level0[t].values)
    check_increasing(schema.times, source.paths, [ds.sizes[t] for _, ds in source.parts],
                     after=old_times[-1] if old_times.size else None, store=output)
    levels = _levels(layout, datasets, schema.x, schema.y)
    group = zarr.open_group(store, mode='r+', zarr_format=zarr_format, use_consolidated=False)
    old_n, added = int(old_times.size), schema.ntime
    new_n = old_n + added
    units, arrays, grown_time, persisted = {}, {}, [], []
    encoding = level0[t].encoding
    numbers, _, _ = encode_cf_datetime(schema.times, encoding['units'], encoding.get('calendar', 'standard'),
                                       dtype=np.dtype(encoding.get('dtype', 'int64')))
    for level in levels:
        for name in schema.variables:
            array = group[f'{level.name}/{name}']
            axis = schema.variables[name].dims.index(t)
            arrays[(level.name, name)] = _grown(array, new_n, axis)
            persisted.append((array, axis))
            if level.factor == 1:
                units[name] = tuple(array.shards or array.chunks)
        time_array = group[f'{level.name}/{t}']
        grown_time.append(_grown(time_array, new_n, 0))
        persisted.append((time_array, 0))
    inputs = [str(p) for p in paths]
    try:
        total = count_blocks(schema, levels, units)
        with Progress(total, f'appending {added} step(s) to {output}', options.progress) as progress:
            copy_blocks(source, schema, levels, arrays, units, progress, time_offset=old_n)
        for array in grown_time:
            array[old_n:new_n] = np.asarray(numbers).astype(array.dtype)
        # the new steps become visible only now: every array grows, then the history, then the consolidation
        for array, axis in persisted:
            shape = list(array.shape)
            shape[axis] = new_n
            array.resize(tuple(shape))
        root_group = zarr.open_group(store, mode='r+', zarr_format=zarr_format, use_consolidated=False)
        root_group.attrs.update(jsonable(record(dict(root_group.attrs), 'append', inputs, output, schema.times)))
        for name in names:
            level_group = root_group[name]
            level_group.attrs.update(jsonable(record(dict(level_group.attrs), 'append', inputs, output, schema.times)))
        consolidate(store, zarr_format)
    except BaseException as error:
        raise as_convert_error(error, output) from None
    finally:
        for _, ds in source.parts:
            ds.close()
    summary = {'output': output, 'inputs': len(paths), 'input_bytes': describe_size(paths),
               'seconds': time.monotonic() - started, 'steps': added, 'total_steps': new_n,
               'first': iso_time(schema.times[0]), 'last': iso_time(schema.times[-1]),
               'levels': [(level.name, level.ny, level.nx) for level in levels], 'variables': list(schema.variables)}
    options.summary.update(summary)
    return summary
