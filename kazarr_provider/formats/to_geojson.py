"""Blocks -> GeoJSON (application/geo+json).

Point answers: one Point feature per point, its values (a series when there
are several time steps/levels) in `properties`. Grid answers: one feature per
cell, at the cell centre. Features are written in slices, as a stream.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import orjson

from ..core.model import GridModel
from ..core.blocks import Block
from .table import Table, block_table

MEDIA_TYPE = 'application/geo+json'
SLICE_FEATURES = 5_000
COORDINATE_NAMES = {'z': 'z', 't': 'datetime'}


def _json_values(column: np.ndarray):
    if column.dtype.kind == 'f':
        return [None if np.isnan(v) else float(v) for v in column]
    return column.tolist()


def _features(table: Table, model: GridModel) -> Iterator[dict]:
    order = np.argsort(table.cell, kind='stable')
    cells, starts = np.unique(table.cell[order], return_index=True)
    bounds = list(starts[1:]) + [order.size]
    for start, stop in zip(starts, bounds):
        rows = order[start:stop]
        first = rows[0]
        properties = {}
        for key, column in table.columns.items():
            if key in ('x', 'y'):
                continue
            values = _json_values(column[rows])
            properties[COORDINATE_NAMES.get(key, key)] = values[0] if len(set(map(str, values))) == 1 else values
        for name, column in table.values.items():
            values = _json_values(column[rows])
            properties[name] = values[0] if len(values) == 1 else values
        yield {'type': 'Feature',
               'geometry': {'type': 'Point', 'coordinates': [float(table.columns['x'][first]),
                                                             float(table.columns['y'][first])]},
               'properties': properties}


def encode(blocks: list[Block], model: GridModel, multi: bool = False) -> Iterator[bytes]:
    parameters = {name: {'units': model.variables[name].attrs.get('units'),
                         'description': str(model.variables[name].attrs.get('long_name', name))}
                  for block in blocks for name in block.values}
    yield b'{"type":"FeatureCollection","parameters":' + orjson.dumps(parameters) + b',"features":['
    first = True
    for block in blocks:
        batch = []
        for feature in _features(block_table(block, model), model):
            batch.append(feature)
            if len(batch) == SLICE_FEATURES:
                yield (b'' if first else b',') + orjson.dumps(batch)[1:-1]
                first, batch = False, []
        if batch:
            yield (b'' if first else b',') + orjson.dumps(batch)[1:-1]
            first = False
    yield b']}'
