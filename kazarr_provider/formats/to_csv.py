"""Blocks -> CSV (text/csv): one row per cell or point, per time step, level and custom value.

The header names each parameter with its units (`t [K]`). Rows are written by
pandas' C writer in slices, as a stream.
"""
from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from ..core.model import GridModel
from ..core.blocks import Block
from .table import block_table, unit_label

MEDIA_TYPE = 'text/csv'
SLICE_ROWS = 100_000
COORDINATE_NAMES = {'x': 'longitude', 'y': 'latitude', 'z': 'z', 't': 'datetime'}


def encode(blocks: list[Block], model: GridModel, multi: bool = False) -> Iterator[bytes]:
    frames = []
    for block in blocks:
        table = block_table(block, model)
        columns = {COORDINATE_NAMES.get(k, k): v for k, v in table.columns.items()}
        columns.update({unit_label(model, name): v for name, v in table.values.items()})
        frames.append(pd.DataFrame(columns))
    frame = pd.concat(frames, ignore_index=True, sort=False) if len(frames) > 1 else frames[0]
    z_units = model.z_attrs.get('units')
    if 'z' in frame.columns and z_units:
        frame = frame.rename(columns={'z': f'z [{z_units}]'})
    yield frame.iloc[:0].to_csv(index=False).encode()
    for start in range(0, len(frame), SLICE_ROWS):
        yield frame.iloc[start:start + SLICE_ROWS].to_csv(index=False, header=False, na_rep='',
                                                          float_format='%.10g').encode()
