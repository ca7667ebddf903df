"""The chunking rule, the pyramid's levels and the reductions that make them.

Chunking rule (each part overridable with `--chunks dim=n,...`):

- x and y: 256 x 256 cells (clipped to the grid): a map window of 1024 x 1024 reads 16 chunks;
- every other dimension but time (level, ensemble member...): 1;
- time: as many steps as keep a chunk near 1 MiB uncompressed (4 for float32, 8 for int16,
  at most 120), so that a point's time series reads a handful of chunks, not one per step.

With `--shard` (Zarr v3 only) the chunks are grouped into shards of 4 x 4 chunks in x/y (one time
chunk deep): fewer, larger objects on S3, each still read chunk by chunk through its index.

Levels: '0' is the input's grid; each further level halves x and y (a trailing odd row or column
is left out, so that cell centres stay inside the grid) until a level fits in one chunk. Every
level is derived from '0' with a factor 2**k. Continuous fields are averaged (`average`: the mean
of the valid cells of each block); variables with `flag_values` take the most frequent flag
(`mode`); bit fields (`flag_masks` only) the first cell of each block (`nearest`). Means and modes
are carried from level to level as sums and counts, so each level is exact, not a mean of means.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from . import ConvertError
from .grid import Schema, VarSpec

SPATIAL_CHUNK = 256
TARGET_CHUNK_BYTES = 1 << 20
MAX_TIME_CHUNK = 120
SHARD_FACTOR = 4


@dataclass
class Level:
    name: str
    factor: int                         # cells of level 0 per cell of this level, along x and y
    ny: int
    nx: int
    y_values: np.ndarray
    x_values: np.ndarray
    transform: tuple | None


def parse_spec(text: str | None, what: str) -> dict[str, int]:
    """`time=1,lat=256,lon=256` -> {'time': 1, 'lat': 256, 'lon': 256}."""
    out: dict[str, int] = {}
    if not text:
        return out
    for item in text.split(','):
        name, sep, value = item.partition('=')
        try:
            size = int(value)
        except ValueError:
            size = 0
        if not sep or not name.strip() or size < 1:
            raise ConvertError(f'{what}: expected dim=size[,dim=size...] with positive sizes, got {item!r}')
        out[name.strip()] = size
    return out


def check_spec(spec: dict[str, int], schema: Schema, what: str):
    known = set(schema.sizes())
    unknown = [d for d in spec if d not in known]
    if unknown:
        raise ConvertError(f'{what}: {", ".join(unknown)} not a dimension (they are: {", ".join(sorted(known))})')


def spatial_chunks(schema: Schema, overrides: dict[str, int]) -> tuple[int, int]:
    return (min(overrides.get(schema.y, SPATIAL_CHUNK), schema.ny), min(overrides.get(schema.x, SPATIAL_CHUNK),
                                                                        schema.nx))


def var_chunks(schema: Schema, spec: VarSpec, ny: int, nx: int, overrides: dict[str, int]) -> tuple[int, ...]:
    cy, cx = spatial_chunks(schema, overrides)
    cy, cx = min(cy, ny), min(cx, nx)
    sizes = schema.sizes()
    out = []
    rest = 1
    for dim in spec.dims:
        if dim in (schema.x, schema.y, schema.t):
            continue
        size = min(overrides.get(dim, 1), sizes[dim])
        rest *= size
    for dim in spec.dims:
        if dim == schema.t:
            default = TARGET_CHUNK_BYTES // max(cy * cx * rest * spec.dtype.itemsize, 1)
            out.append(overrides.get(dim) or int(np.clip(default, 1, MAX_TIME_CHUNK)))
        elif dim == schema.y:
            out.append(cy)
        elif dim == schema.x:
            out.append(cx)
        else:
            out.append(min(overrides.get(dim, 1), sizes[dim]))
    return tuple(out)


def var_shards(schema: Schema, spec: VarSpec, chunks: tuple[int, ...], ny: int, nx: int,
               overrides: dict[str, int]) -> tuple[int, ...]:
    out = []
    for dim, chunk in zip(spec.dims, chunks):
        if dim in (schema.y, schema.x):
            size = ny if dim == schema.y else nx
            shard = overrides.get(dim) or min(chunk * SHARD_FACTOR, math.ceil(size / chunk) * chunk)
        else:
            shard = overrides.get(dim) or chunk
        if shard % chunk:
            raise ConvertError(f'--shard-shape: {dim}={shard} is not a multiple of its chunk ({chunk})')
        out.append(shard)
    return tuple(out)


def plan_levels(schema: Schema, chunk_y: int, chunk_x: int, pyramid: bool = True) -> list[Level]:
    levels = [Level('0', 1, schema.ny, schema.nx, schema.y_values, schema.x_values, schema.transform)]
    while pyramid:
        last = levels[-1]
        if last.ny <= chunk_y and last.nx <= chunk_x:
            break
        ny, nx = last.ny // 2, last.nx // 2
        if ny < 1 or nx < 1:
            break
        factor = last.factor * 2
        if schema.transform is not None:
            a, b, c, d, e, f = schema.transform
            transform = (a * factor, 0.0, c, 0.0, e * factor, f)
            x = c + a * factor * (np.arange(nx) + 0.5)
            y = f + e * factor * (np.arange(ny) + 0.5)
        else:
            transform = None
            x = schema.x_values[:nx * factor].reshape(nx, factor).mean(axis=1)
            y = schema.y_values[:ny * factor].reshape(ny, factor).mean(axis=1)
        levels.append(Level(str(len(levels)), factor, ny, nx, y, x, transform))
    return levels


def band_alignment(levels: list[Level], unit_y: int) -> int:
    """Rows of level 0 that a band must be a multiple of: whole write units, whole blocks of every level."""
    return math.lcm(unit_y, levels[-1].factor)


def _sum2x2(array: np.ndarray, h: int, w: int, dtype=None) -> np.ndarray:
    """Sums of the 2 x 2 blocks of the first 2h x 2w cells (four strided adds: faster than a reshaped sum)."""
    a = array[..., :2 * h, :2 * w]
    out = a[..., 0::2, 0::2].astype(dtype or a.dtype)
    out += a[..., 1::2, 0::2]
    out += a[..., 0::2, 1::2]
    out += a[..., 1::2, 1::2]
    return out


class Reducer:
    """Level k+1 of a band from level k, carried as (sums, counts) / flag counts / cells."""

    def __init__(self, spec: VarSpec):
        self.spec = spec

    def first(self, block: np.ndarray, h: int, w: int):
        """The state of level 1 (h x w cells) from a decoded level-0 block."""
        method = self.spec.method
        if method == 'nearest':
            return block[..., :2 * h:2, :2 * w:2]
        if method == 'mode':
            return np.stack([_sum2x2(block == flag, h, w, 'int32') for flag in self.spec.flags])
        if block.dtype.kind != 'f':
            return _sum2x2(block, h, w, 'float64'), np.full(block.shape[:-2] + (h, w), 4, 'int32')
        valid = np.isfinite(block)
        if valid.all():
            return _sum2x2(block, h, w, 'float64'), np.full(block.shape[:-2] + (h, w), 4, 'int32')
        return _sum2x2(np.where(valid, block, 0), h, w, 'float64'), _sum2x2(valid, h, w, 'int32')

    def next(self, state, h: int, w: int):
        method = self.spec.method
        if method == 'nearest':
            return state[..., :2 * h:2, :2 * w:2]
        if method == 'mode':
            return _sum2x2(state, h, w)
        sums, counts = state
        return _sum2x2(sums, h, w), _sum2x2(counts, h, w)

    def value(self, state) -> np.ndarray:
        method = self.spec.method
        if method == 'nearest':
            return state
        if method == 'mode':
            best = np.argmax(state, axis=0)
            total = state.sum(axis=0)
            out = np.asarray(self.spec.flags, 'float64')[best]
            return np.where(total > 0, out, np.nan)
        sums, counts = state
        with warnings.catch_warnings(), np.errstate(invalid='ignore', divide='ignore'):
            warnings.simplefilter('ignore', RuntimeWarning)
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def layout_attrs(levels: list[Level], methods: dict[str, str]) -> dict:
    """The zarr-conventions `multiscales` object: one layout item per level, with its absolute position."""
    kinds = set(methods.values()) or {'average'}
    default = 'average' if 'average' in kinds or len(kinds) > 1 else kinds.pop()
    layout = []
    for level in levels:
        item: dict = {'asset': level.name}
        if level.factor > 1:
            item.update(derived_from='0', transform={'scale': [float(level.factor)] * 2, 'translation': [0.0, 0.0]},
                        resampling_method=default)
            special = {name: method for name, method in methods.items() if method != default}
            if special:
                item['kazarr:resampling_by_variable'] = special
        item['spatial:shape'] = [level.ny, level.nx]
        if level.transform is not None:
            item['spatial:transform'] = [float(v) for v in level.transform]
        layout.append(item)
    return {'layout': layout, 'resampling_method': default}
