"""Write a GeoZarr store: its skeleton and its data (where it is written, and how it is moved into place,
is `target`).

The skeleton (groups, arrays, coordinates, attributes) is written by xarray (`to_zarr(compute=
False)`), so encodings are exactly xarray's; the data is then copied block by block straight into
the zarr arrays, each block read from the inputs, encoded, and reduced into the coarser levels.
"""
from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from itertools import product

import numpy as np
import xarray as xr
import zarr
from zarr.codecs import BloscCodec

from . import ConvertError
from .grid import PACK_RANGE, Schema, VarSpec
from .pyramid import Level, Reducer, band_alignment

BLOCK_BYTES = int(os.environ.get('KAZARR_CONVERT_BLOCK_MB', '96')) << 20     # decoded bytes read per block
PROJ_ENTRY = {'schema_url': 'https://raw.githubusercontent.com/zarr-experimental/geo-proj/refs/tags/v1/schema.json',
              'spec_url': 'https://github.com/zarr-experimental/geo-proj/blob/v1/README.md',
              'uuid': 'f17cb550-5864-4468-aeb7-f3180cfb622f', 'name': 'proj:',
              'description': 'Coordinate reference system information for geospatial data'}
SPATIAL_ENTRY = {'schema_url': 'https://raw.githubusercontent.com/zarr-conventions/spatial/refs/tags/v1/schema.json',
                 'spec_url': 'https://github.com/zarr-conventions/spatial/blob/v1/README.md',
                 'uuid': '689b58e2-cf7b-45e0-9fff-9cfc0883d6b4', 'name': 'spatial:',
                 'description': 'Spatial coordinate information'}
MULTISCALES_ENTRY = {'schema_url': 'https://raw.githubusercontent.com/zarr-conventions/multiscales/refs/tags/v1/'
                                   'schema.json',
                     'spec_url': 'https://github.com/zarr-conventions/multiscales/blob/v1/README.md',
                     'uuid': 'd35379db-88df-4056-af3a-620245f8e347', 'name': 'multiscales',
                     'description': 'Multiscale layout of zarr datasets'}


def jsonable(value):
    """Attribute values as JSON types (numpy scalars and arrays become numbers and lists)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode('utf8', 'replace')
    return value


# --- the skeleton -------------------------------------------------------------------------------------

def group_attrs(schema: Schema, level: Level, base: dict) -> dict:
    attrs = {**base, 'zarr_conventions': [PROJ_ENTRY, SPATIAL_ENTRY]}
    if schema.crs_code:
        attrs['proj:code'] = schema.crs_code
    attrs['proj:wkt2'] = schema.crs.to_wkt()
    attrs['spatial:dimensions'] = [schema.y, schema.x]
    attrs['spatial:shape'] = [level.ny, level.nx]
    attrs['spatial:registration'] = 'pixel'
    if level.transform is not None:
        a, _, c, _, e, f = level.transform
        xs, ys = (c, c + a * level.nx), (f, f + e * level.ny)
        attrs['spatial:transform'] = [float(v) for v in level.transform]
        attrs['spatial:bbox'] = [min(xs), min(ys), max(xs), max(ys)]
    return jsonable(attrs)


def root_attrs(schema: Schema, base: dict, multiscales: dict) -> dict:
    attrs = {**base, 'zarr_conventions': [MULTISCALES_ENTRY, PROJ_ENTRY, SPATIAL_ENTRY]}
    if schema.crs_code:
        attrs['proj:code'] = schema.crs_code
    attrs['proj:wkt2'] = schema.crs.to_wkt()
    attrs['spatial:dimensions'] = [schema.y, schema.x]
    attrs['multiscales'] = multiscales
    return jsonable(attrs)


def template(schema: Schema, level: Level, chunks: dict, shards: dict | None, zarr_format: int,
             base: dict) -> tuple[xr.Dataset, dict]:
    """A dataset of lazy zeros with the level's coordinates and attributes, and its encoding."""
    import dask.array as da      # here, not at the top: a new store's skeleton only (appends never load it)
    coords = {schema.y: (schema.y, level.y_values, schema.coord_attrs[schema.y]),
              schema.x: (schema.x, level.x_values, schema.coord_attrs[schema.x])}
    encoding: dict = {schema.y: {'_FillValue': None}, schema.x: {'_FillValue': None}}
    for dim, values in schema.other_values.items():
        coords[dim] = (dim, values, schema.coord_attrs.get(dim, {}))
        encoding[dim] = {'_FillValue': None} if np.asarray(values).dtype.kind == 'f' else {}
    if schema.t:
        coords[schema.t] = (schema.t, schema.times, schema.coord_attrs[schema.t])
        encoding[schema.t] = {'units': schema.time_units, 'calendar': schema.calendar, 'dtype': schema.time_dtype,
                              '_FillValue': None}
    sizes = {**schema.sizes(), schema.y: level.ny, schema.x: level.nx}
    data_vars = {}
    for name, spec in schema.variables.items():
        shape = tuple(sizes[d] for d in spec.dims)
        unit = shards[name] if shards else chunks[name]
        data_vars[name] = (spec.dims, da.zeros(shape, dtype=spec.compute_dtype, chunks=unit), spec.written_attrs())
        enc = spec.encoding(zarr_format)
        enc['chunks'] = chunks[name]
        if zarr_format == 3:
            enc['compressors'] = [compressor()]
        if shards:
            enc['shards'] = shards[name]
        encoding[name] = enc
    data_vars[schema.mapping_name] = ((), np.int32(0), schema.mapping_attrs(level.transform))
    ds = xr.Dataset(data_vars, coords=coords, attrs=group_attrs(schema, level, base))
    return ds, encoding


def compressor():
    """Blosc zstd level 3 with byte shuffle: about half the bytes of zarr's default zstd for float fields, and
    less CPU (Zarr v2 keeps zarr's default, Blosc lz4 with shuffle)."""
    return BloscCodec(cname='zstd', clevel=3, shuffle='shuffle')


def write_skeleton(store, schema: Schema, levels: list[Level], plan: dict, zarr_format: int, base: dict,
                   root: dict):
    for k, level in enumerate(levels):
        ds, encoding = template(schema, level, plan['chunks'][level.name],
                                plan['shards'][level.name] if plan['shards'] else None, zarr_format, base)
        ds.to_zarr(store, group=level.name, mode='w' if k == 0 else 'a', compute=False, zarr_format=zarr_format,
                   consolidated=False, encoding=encoding)
    group = zarr.open_group(store, mode='a', zarr_format=zarr_format)
    group.attrs.update(root)


def consolidate(store, zarr_format: int):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        zarr.consolidate_metadata(store, zarr_format=zarr_format)


# --- the data ---------------------------------------------------------------------------------------

def encode(values: np.ndarray, spec: VarSpec) -> np.ndarray:
    """Decoded values -> on-disk values (packing, integer fill), refusing what the type cannot hold."""
    if spec.dtype.kind == 'f':
        return values.astype(spec.dtype, copy=False)
    v = values.astype('float64', copy=False)
    if spec.packed:
        v = (v - spec.offset) / spec.scale
    missing = ~np.isfinite(v)
    v = np.round(np.where(missing, 0.0, v))
    info = np.iinfo(spec.dtype)
    lo, hi = (-PACK_RANGE, PACK_RANGE) if spec.packed else (info.min, info.max)
    bad = ~missing & ((v < lo) | (v > hi))
    if bad.any():
        what = (f'the packed range [{lo * spec.scale + spec.offset:g}, {hi * spec.scale + spec.offset:g}] of the '
                'store' if spec.packed else f'{spec.dtype}')
        raise ConvertError(f'{spec.name}: {int(bad.sum())} value(s) outside {what}')
    if missing.any():
        if spec.fill is None:
            raise ConvertError(f'{spec.name}: missing values, but the variable has no _FillValue to mark them')
        v[missing] = spec.fill
    return v.astype(spec.dtype)


def block_plan(schema: Schema, spec: VarSpec, unit: tuple[int, ...], levels: list[Level]):
    """Selections (level-0 slices by dimension) covering the variable, whole write units at a time."""
    sizes = schema.sizes()
    ranges = []
    rest_cells = 1
    for dim, step in zip(spec.dims, unit):
        if dim in (schema.y, schema.x):
            continue
        ranges.append([(dim, slice(i, min(i + step, sizes[dim]))) for i in range(0, sizes[dim], step)])
        rest_cells *= step
    align = band_alignment(levels, unit[spec.dims.index(schema.y)])
    row_bytes = schema.nx * rest_cells * max(spec.compute_dtype.itemsize, 8) * 2
    rows = max(align, (BLOCK_BYTES // max(row_bytes, 1)) // align * align)
    bands = [(schema.y, slice(r, min(r + rows, schema.ny))) for r in range(0, schema.ny, rows)]
    return [dict(combo) for combo in product(*ranges, bands)]


def copy_blocks(source, schema: Schema, levels: list[Level], arrays: dict, units: dict, progress,
                time_offset: int = 0, names: list[str] | None = None):
    """Every block of every variable: read, encode, write level 0, reduce into each coarser level."""
    work = []
    for name in names or list(schema.variables):
        spec = schema.variables[name]
        work.extend((spec, sel) for sel in block_plan(schema, spec, units[name], levels))
    if not work:
        return

    def read(item):
        spec, sel = item
        return source.read(spec.name, sel, spec.dims)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix='kazarr-read') as pool:
        pending = pool.submit(read, work[0])
        for i, (spec, sel) in enumerate(work):
            block = pending.result()
            if i + 1 < len(work):
                pending = pool.submit(read, work[i + 1])        # the next read overlaps this write
            write_block(block, spec, sel, schema, levels, arrays, time_offset)
            progress.update(1, note=spec.name)


def write_block(block: np.ndarray, spec: VarSpec, sel: dict, schema: Schema, levels: list[Level], arrays: dict,
                time_offset: int):
    def where(rows: slice, width: int):
        out = []
        for dim in spec.dims:
            if dim == schema.y:
                out.append(rows)
            elif dim == schema.x:
                out.append(slice(0, width))
            elif dim == schema.t:
                s = sel[dim]
                out.append(slice(s.start + time_offset, s.stop + time_offset))
            else:
                out.append(sel[dim])
        return tuple(out)

    rows = sel[schema.y]
    arrays[(levels[0].name, spec.name)][where(rows, schema.nx)] = encode(block, spec)
    if len(levels) == 1:
        return
    reducer = Reducer(spec)
    h, w = block.shape[-2], block.shape[-1]
    state = None
    for level in levels[1:]:
        h, w = h // 2, w // 2
        if h < 1 or w < 1:
            break
        state = reducer.first(block, h, w) if state is None else reducer.next(state, h, w)
        start = rows.start // level.factor
        values = reducer.value(state)
        arrays[(level.name, spec.name)][where(slice(start, start + h), w)] = encode(values, spec)


def array_handles(store, levels: list[Level], names, zarr_format: int) -> dict:
    group = zarr.open_group(store, mode='r+', zarr_format=zarr_format, use_consolidated=False)
    return {(level.name, name): group[f'{level.name}/{name}'] for level in levels for name in names}


def units_of(plan: dict, level_name: str = '0') -> dict:
    return (plan['shards'] or plan['chunks'])[level_name]


def count_blocks(schema: Schema, levels: list[Level], units: dict, names=None) -> int:
    return sum(len(block_plan(schema, schema.variables[n], units[n], levels)) for n in names or schema.variables)
