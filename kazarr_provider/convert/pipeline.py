"""One conversion from start to end: inputs -> schema -> plan -> temporary store -> moved into place."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from . import ConvertError
from .append import append
from .grid import PACK_RANGE, Schema, describe
from .history import record
from .progress import Progress
from .pyramid import (check_spec, layout_attrs, parse_spec, plan_levels, spatial_chunks, var_chunks, var_shards)
from .reader import describe_size, expand_inputs, open_inputs
from .target import as_convert_error, target_for
from .write import (array_handles, block_plan, consolidate, copy_blocks, count_blocks, root_attrs, units_of,
                    write_skeleton)

LOGGER = logging.getLogger(__name__)
PACK_HEADROOM = 0.25         # packed range: the data's range widened by a quarter of it each side (appends)


@dataclass
class Options:
    inputs: list[str]
    output: str
    zarr_format: int = 3
    chunks: str | None = None
    shard: str | bool | None = None          # True: the default shard rule; a spec: dim=size overrides
    pack: list[str] | bool = False
    variables: list[str] | None = None
    overwrite: bool = False
    append: bool = False
    pyramid: bool = True
    progress: bool | None = None              # None: on a terminal only
    summary: dict = field(default_factory=dict)


def make_plan(schema: Schema, levels, overrides: dict, shard) -> dict:
    shard_overrides = parse_spec(shard, '--shard-shape') if isinstance(shard, str) else {}
    check_spec(shard_overrides, schema, '--shard-shape')
    plan = {'chunks': {}, 'shards': {} if shard else None}
    for level in levels:
        plan['chunks'][level.name] = {}
        if shard:
            plan['shards'][level.name] = {}
        for name, spec in schema.variables.items():
            chunks = var_chunks(schema, spec, level.ny, level.nx, overrides)
            plan['chunks'][level.name][name] = chunks
            if shard:
                mine = shard_overrides if level.factor == 1 else {
                    d: v for d, v in shard_overrides.items() if d not in (schema.x, schema.y)}
                plan['shards'][level.name][name] = var_shards(schema, spec, chunks, level.ny, level.nx, mine)
    return plan


def pack_ranges(source, schema: Schema, levels, units: dict, show):
    """Scale and offset of each packed variable from its range over all inputs (one extra read)."""
    names = [n for n, spec in schema.variables.items() if spec.packed]
    if not names:
        return
    work = [(n, sel) for n in names for sel in block_plan(schema, schema.variables[n], units[n], levels)]
    ranges = {n: [np.inf, -np.inf] for n in names}
    with Progress(len(work), 'measuring ranges for --pack', show) as progress:
        for name, sel in work:
            block = source.read(name, sel, schema.variables[name].dims)
            finite = block[np.isfinite(block)]
            if finite.size:
                ranges[name][0] = min(ranges[name][0], float(finite.min()))
                ranges[name][1] = max(ranges[name][1], float(finite.max()))
            progress.update(1, note=name)
    for name, (lo, hi) in ranges.items():
        spec = schema.variables[name]
        if not np.isfinite(lo):
            lo, hi = 0.0, 1.0
        span = hi - lo or max(abs(hi), 1.0) * 1e-3
        lo, hi = lo - PACK_HEADROOM * span, hi + PACK_HEADROOM * span
        spec.offset = float((hi + lo) / 2)
        spec.scale = float((hi - lo) / (2 * PACK_RANGE))
        LOGGER.info('%s packed into int16: scale_factor %g, add_offset %g', name, spec.scale, spec.offset)


def convert(options: Options) -> dict:
    """Convert the inputs into a new store (or, with `append`, onto an existing one); a summary dict."""
    if options.append:
        return append(options)
    started = time.monotonic()
    if options.zarr_format not in (2, 3):
        raise ConvertError('--zarr-format is 2 or 3')
    if options.shard and options.zarr_format == 2:
        raise ConvertError('--shard needs Zarr v3 (sharding is a v3 codec)')
    paths = expand_inputs(options.inputs)
    target = target_for(options.output, options.overwrite)
    if target.exists() and not options.overwrite:      # before reading anything: say it at once
        target.prepare()
    source = open_inputs(paths, options.variables)
    schema = describe(source, options.variables, options.pack)
    overrides = parse_spec(options.chunks, '--chunks')
    check_spec(overrides, schema, '--chunks')
    levels = plan_levels(schema, *spatial_chunks(schema, overrides), pyramid=options.pyramid)
    plan = make_plan(schema, levels, overrides, options.shard)
    units = units_of(plan)
    pack_ranges(source, schema, levels, units, options.progress)
    inputs = [str(p) for p in paths]
    base = record(schema.attrs, 'convert', inputs, str(target), schema.times)
    methods = {name: spec.method for name, spec in schema.variables.items()}
    root = root_attrs(schema, base, layout_attrs(levels, methods))
    target.prepare()
    try:
        store = target.store
        write_skeleton(store, schema, levels, plan, options.zarr_format, base, root)
        arrays = array_handles(store, levels, list(schema.variables), options.zarr_format)
        total = count_blocks(schema, levels, units)
        with Progress(total, f'converting to {target}', options.progress) as progress:
            copy_blocks(source, schema, levels, arrays, units, progress)
        consolidate(store, options.zarr_format)
        target.commit()
    except BaseException as error:
        target.abort()
        raise as_convert_error(error, target) from None
    finally:
        for _, ds in source.parts:
            ds.close()
    seconds = time.monotonic() - started
    size = describe_size(paths)
    summary = {'output': str(target), 'inputs': len(paths), 'input_bytes': size, 'seconds': seconds,
               'levels': [(level.name, level.ny, level.nx) for level in levels],
               'variables': list(schema.variables), 'steps': schema.ntime}
    options.summary.update(summary)
    return summary
