"""Grid blocks -> GeoTIFF (image/tiff; application=geotiff), written by rasterio/GDAL in memory.

One raster, one band per field (band description = field name; `units`, `long_name` and
`standard_name` as band tags), tiled 256 x 256, DEFLATE with the predictor that suits the
data type (2 for integers, 3 for floats), pixel-is-area (`AREA_OR_POINT=Area`), north-up:
row 0 is the northernmost row and column 0 the westernmost, whatever the order of the
block's axes.

Georeferencing: the caller that built an exact output grid passes its `crs` and north-up
`transform`; otherwise the transform comes from the block's regular cell-centre axes (the
edges half a cell beyond the first and last centres) and the CRS is the grid's own
(`model.crs`) when `block.native_xy`, else CRS84 (written as EPSG:4326: GeoTIFF stores
geographic coordinates as longitude, latitude whatever the CRS's axis order).

A GeoTIFF has one data type and one no-data value for all its bands, so the bands share
the smallest type holding every field: float fields keep float32/float64 with NaN as
no-data; integer fields keep their integer type with their declared `_FillValue` (or
`missing_value`) as no-data when every field that declares one agrees (and no field
without one holds that value), else they are widened to float with their fill cells NaN.
The type is decided from the arrays, not the stored variable: floats unpacked from packed
integers stay floats. Integer arrays of a packed variable (`scale_factor`/`add_offset`)
carry them as the band's scale/offset, so GDAL unpacks them.

Refused with ValueError: non-grid blocks, irregular x/y spacing (when the transform must
come from the axes), a dimension other than x/y with more than one value (the caller
slices time, level and the others first; singleton ones are squeezed and named in band
tags), blocks on different x/y axes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyproj import CRS
from rasterio.crs import CRS as RioCRS
from rasterio.io import MemoryFile
from rasterio.transform import Affine

from ..core.blocks import Block
from ..core.crs import CRS84, authority
from ..core.model import GridModel
from ..core.times import iso

MEDIA_TYPE = 'image/tiff; application=geotiff'
TILE = 256
# GDAL's default DEFLATE level; level 1 writes ~2.3x faster, ~20% larger (8192 x 4096 x 2 float32: 5.8 s vs 2.6 s)
ZLEVEL = 6
# how far a cell centre may sit from the regular line through the first and last centres, in cells
# (float32-stored axes jitter by a few ulps of the coordinate as well: see core.coords.cell_edges)
REGULAR_TOLERANCE = 1e-3
TAGGED_ATTRS = ('units', 'long_name', 'standard_name')


@dataclass
class _Band:
    name: str
    array: np.ndarray                  # (ny, nx), north-up, west-left
    fill: float | int | None           # declared fill of an integer field
    attrs: dict
    tags: dict                         # squeezed dimensions: name -> value


def _regular_edges(values: np.ndarray, name: str) -> tuple[float, float]:
    """(first edge, signed step) of regular cell centres; ValueError if the spacing is irregular."""
    values = np.asarray(values, dtype='float64')
    n = values.size
    if n < 2:
        raise ValueError(f'the {name} axis has a single cell: its spacing is unknown, pass the output transform')
    if not np.all(np.isfinite(values)):
        raise ValueError(f'the {name} axis holds non-finite coordinates')
    step = (values[-1] - values[0]) / (n - 1)
    if step == 0:
        raise ValueError(f'the {name} axis has a zero spacing')
    line = values[0] + step * np.arange(n)
    jitter = 4 * float(np.finfo('float32').eps) * float(np.abs(values).max())
    worst = float(np.max(np.abs(values - line)))
    if worst > REGULAR_TOLERANCE * abs(step) + jitter:
        raise ValueError(f'the {name} axis is not regularly spaced (a centre is {worst / abs(step):.3g} cells off '
                         'the regular spacing): a GeoTIFF needs an affine grid, resample it first')
    return values[0] - step / 2.0, step


def _derived_transform(x: np.ndarray, y: np.ndarray) -> Affine:
    """North-up transform whose pixel edges lie half a cell beyond the first and last centres."""
    x0, dx = _regular_edges(x, 'x')
    y0, dy = _regular_edges(y, 'y')
    west = x0 if dx > 0 else x0 + dx * x.size          # descending x: the far edge is the west one
    north = y0 + dy * y.size if dy > 0 else y0         # ascending y: the far edge is the north one
    return Affine(abs(dx), 0.0, west, 0.0, -abs(dy), north)


def _north_up(transform) -> Affine:
    transform = transform if isinstance(transform, Affine) else Affine(*tuple(transform)[:6])
    if transform.b != 0 or transform.d != 0 or not transform.a > 0 or not transform.e < 0:
        raise ValueError(f'the output transform {tuple(transform)[:6]} is not north-up (a > 0, b = d = 0, e < 0)')
    return transform


def _rio_crs(crs) -> RioCRS:
    """A rasterio CRS: EPSG codes as such (clean GeoTIFF keys), CRS84 as EPSG:4326, else from the WKT."""
    if isinstance(crs, RioCRS):
        return crs
    crs = crs if isinstance(crs, CRS) else CRS.from_user_input(crs)
    if crs == CRS84 or crs.to_string() == 'OGC:CRS84':
        return RioCRS.from_epsg(4326)
    found = authority(crs)
    if found == ('OGC', 'CRS84'):
        return RioCRS.from_epsg(4326)
    if found and found[0] == 'EPSG':
        return RioCRS.from_epsg(int(found[1]))
    return RioCRS.from_wkt(crs.to_wkt())


def _declared_fill(attrs: dict):
    for key in ('_FillValue', 'missing_value'):
        value = attrs.get(key)
        if value is None:
            continue
        value = np.asarray(value).ravel()
        if value.size and np.isfinite(value[0]):
            return value[0].item()
    return None


def _squeezed_tags(block: Block, model: GridModel) -> dict:
    tags = {}
    for key, values in block.axes.items():
        if key in ('x', 'y'):
            continue
        value = np.asarray(values).ravel()[0]
        if key == 't':
            tags['time'] = iso(np.array([float(value)]), model.calendar)[0]
        elif key == 'z':
            tags[model.z or 'z'] = str(value.item() if hasattr(value, 'item') else value)
        else:
            tags[key] = str(value.item() if hasattr(value, 'item') else value)
    return tags


def _bands(block: Block, model: GridModel) -> list[_Band]:
    if block.kind != 'grid':
        raise ValueError(f'a GeoTIFF holds a grid, not {block.kind}')
    if 'x' not in block.axes or 'y' not in block.axes:
        raise ValueError('a grid block without x/y axes cannot be written as a GeoTIFF')
    keys = list(block.axes)
    if keys[-2:] != ['y', 'x']:
        raise ValueError(f'grid axes must end with y, x (got {keys})')
    for key in keys[:-2]:
        size = np.asarray(block.axes[key]).size
        if size != 1:
            label = {'t': 'time', 'z': 'the vertical'}.get(key, key)
            raise ValueError(f'a GeoTIFF is 2-D: {label} has {size} values here, slice it to one first')
    x, y = np.asarray(block.axes['x']), np.asarray(block.axes['y'])
    if x.size == 0 or y.size == 0:
        raise ValueError('an empty grid cannot be written as a GeoTIFF')
    flip_y = y.size > 1 and y[-1] > y[0]          # ascending: the file's first row is the last one
    flip_x = x.size > 1 and x[-1] < x[0]
    tags = _squeezed_tags(block, model)
    bands = []
    for name, values in block.values.items():
        array = np.asarray(values)
        if array.size != y.size * x.size:
            raise ValueError(f'{name}: {array.shape} values for a {y.size} x {x.size} grid')
        array = array.reshape(y.size, x.size)           # a view: the squeezed axes are singletons
        if flip_y:
            array = array[::-1]
        if flip_x:
            array = array[:, ::-1]
        variable = model.variables.get(name)
        attrs = dict(variable.attrs) if variable is not None else {}
        fill = _declared_fill(attrs) if array.dtype.kind in 'iu' else None
        bands.append(_Band(name, array, fill, attrs, tags))
    return bands


def _band_dtype(array: np.ndarray) -> np.dtype:
    kind = array.dtype.kind
    if kind == 'b':
        return np.dtype('uint8')
    if kind == 'f':
        return np.dtype('float32') if array.dtype.itemsize <= 4 else np.dtype('float64')
    if kind in 'iu':
        return array.dtype
    raise ValueError(f'values of type {array.dtype} cannot be written as a GeoTIFF band')


def _output_type(bands: list[_Band]) -> tuple[np.dtype, float | int | None]:
    """The one data type and no-data value of the file (see the module's docstring)."""
    dtype = np.result_type(*[_band_dtype(band.array) for band in bands])
    if dtype.kind == 'f':
        return dtype, float('nan')
    fills = {band.fill for band in bands if band.fill is not None}
    if not fills:
        return dtype, None
    if len(fills) == 1:
        fill = next(iter(fills))
        fits = float(fill).is_integer() and np.iinfo(dtype).min <= fill <= np.iinfo(dtype).max
        # a field declaring no fill must not hold the no-data value the file will declare
        clash = any(band.fill is None and np.any(band.array == fill) for band in bands)
        if fits and not clash:
            return dtype, int(fill)
    wide = np.result_type(dtype, np.float32)
    return (np.dtype('float32') if wide == np.float32 else np.dtype('float64')), float('nan')


def _as_output(band: _Band, dtype: np.dtype) -> np.ndarray:
    array = band.array
    if dtype.kind == 'f' and array.dtype.kind in 'iub':
        # widened to float: fill cells become NaN, packed integers are unpacked (no band scale then)
        out = array.astype(dtype)
        scale, offset = _packing(band)
        if scale != 1.0:
            out *= scale
        if offset != 0.0:
            out += offset
        if band.fill is not None:
            out[array == band.fill] = np.nan
        return out
    return np.ascontiguousarray(array, dtype=dtype)


def _packing(band: _Band) -> tuple[float, float]:
    """(scale_factor, add_offset) of an integer array of a packed variable; (1, 0) for anything else."""
    if band.array.dtype.kind not in 'iu':
        return 1.0, 0.0
    return float(band.attrs.get('scale_factor', 1.0)), float(band.attrs.get('add_offset', 0.0))


def encode(blocks: list[Block], model: GridModel, multi: bool = False, *, crs=None, transform=None,
           fields: list[str] | None = None) -> bytes:
    """The blocks' fields as the bands of one GeoTIFF.

    `crs`: the output CRS (pyproj CRS, rasterio CRS or anything pyproj reads); by default the
    grid's own CRS when the blocks' x/y are native, else CRS84. `transform`: the north-up
    affine transform of the output grid (an `affine.Affine`, or its six coefficients a, b, c,
    d, e, f); by default derived from the regular cell-centre axes. The arrays are oriented
    north-up from their axes in both cases. `fields`: the band order (default: the order of
    the fields in the blocks). `multi` is accepted for the encoders' common signature.
    """
    if not blocks:
        raise ValueError('no grid to write')
    first = blocks[0]
    bands: list[_Band] = []
    for block in blocks:
        for key in ('x', 'y'):
            if key in block.axes and key in first.axes and not np.array_equal(block.axes[key], first.axes[key]):
                raise ValueError('the fields are on different grids: one GeoTIFF holds one grid')
        if block.native_xy != first.native_xy:
            raise ValueError('the fields are on different grids (native and CRS84 coordinates)')
        bands.extend(_bands(block, model))
    if fields is not None:
        by_name = {band.name: band for band in bands}
        missing = [name for name in fields if name not in by_name]
        if missing:
            raise ValueError(f'no values for the fields {missing}')
        bands = [by_name[name] for name in fields]
    names = [band.name for band in bands]
    if len(set(names)) != len(names):
        raise ValueError(f'a field appears twice among the bands: {names}')
    x, y = np.asarray(first.axes['x']), np.asarray(first.axes['y'])
    transform = _derived_transform(x, y) if transform is None else _north_up(transform)
    if crs is None:
        crs = model.crs if first.native_xy else CRS84
    dtype, nodata = _output_type(bands)
    profile = {
        'driver': 'GTiff', 'width': int(x.size), 'height': int(y.size), 'count': len(bands),
        'dtype': dtype.name, 'crs': _rio_crs(crs), 'transform': transform, 'nodata': nodata,
        'tiled': True, 'blockxsize': TILE, 'blockysize': TILE, 'compress': 'deflate', 'zlevel': ZLEVEL,
        'predictor': 3 if dtype.kind == 'f' else 2, 'interleave': 'band', 'BIGTIFF': 'IF_SAFER',
    }
    with MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.update_tags(AREA_OR_POINT='Area')
            scales, offsets = [], []
            for index, band in enumerate(bands, start=1):
                dst.write(_as_output(band, dtype), index)
                dst.set_band_description(index, band.name)
                if band.attrs.get('units') not in (None, ''):
                    dst.set_band_unit(index, str(band.attrs['units']))
                tags = {key: str(band.attrs[key]) for key in TAGGED_ATTRS if band.attrs.get(key) not in (None, '')}
                dst.update_tags(index, **{**band.tags, **tags})
                scale, offset = _packing(band) if dtype.kind in 'iu' else (1.0, 0.0)
                scales.append(scale)
                offsets.append(offset)
            if any(s != 1.0 for s in scales) or any(o != 0.0 for o in offsets):
                dst.scales, dst.offsets = scales, offsets
        return memory.read()
