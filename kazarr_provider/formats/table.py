"""Blocks flattened to columns (one row per cell or point, per time step, level and custom value).

Shared by the CSV and GeoJSON encoders; built with numpy broadcasting, never
by looping over values in Python.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.model import GridModel
from ..core.blocks import Block
from ..core.times import iso


@dataclass
class Table:
    columns: dict[str, np.ndarray]        # coordinate columns: x, y[, z][, t][, custom...]
    values: dict[str, np.ndarray]         # one column per parameter
    cell: np.ndarray                      # which horizontal cell/point each row belongs to (for grouping)
    kind: str

    @property
    def rows(self) -> int:
        return self.cell.size


def block_table(block: Block, model: GridModel) -> Table:
    """One row per value position of the block, in its own row-major order."""
    dims = list(block.axes)
    shape = tuple(block.axes[d].size for d in dims)
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing='ij')
    index = {d: g.ravel() for d, g in zip(dims, grids)}
    columns: dict[str, np.ndarray] = {}
    if block.kind == 'grid':
        cell = index['y'] * block.axes['x'].size + index['x']
        if block.cell_lonlat is not None:
            # a projected grid: each cell's own longitude/latitude
            columns['x'] = block.cell_lonlat[0].ravel()[cell]
            columns['y'] = block.cell_lonlat[1].ravel()[cell]
        else:
            columns['x'] = block.axes['x'][index['x']]
            columns['y'] = block.axes['y'][index['y']]
    else:
        cell = index['point']
        xy = block.point_xy
        if block.native_xy:
            xy = np.column_stack(model.lonlat(xy[:, 0], xy[:, 1]))
        columns['x'] = xy[cell, 0]
        columns['y'] = xy[cell, 1]
    if block.point_z is not None:
        columns['z'] = block.point_z[cell]
    elif 'z' in block.axes:
        columns['z'] = block.axes['z'][index['z']]
    if block.point_t is not None:
        columns['t'] = np.array(iso(block.point_t, model.calendar))[cell]
    elif 't' in block.axes:
        columns['t'] = np.array(iso(block.axes['t'], model.calendar))[index['t']]
    for d in block.custom_dims:
        columns[d] = block.axes[d][index[d]]
    values = {name: np.asarray(array, dtype='float64').ravel() for name, array in block.values.items()}
    table = Table(columns, values, cell, block.kind)
    if block.kind == 'grid':
        # cells outside a polygon/circle/corridor are not part of the answer
        keep = np.zeros(table.rows, bool)
        for column in values.values():
            keep |= ~np.isnan(column)
        table = Table({k: v[keep] for k, v in columns.items()}, {k: v[keep] for k, v in values.items()},
                      cell[keep], block.kind)
    return table


def unit_label(model: GridModel, name: str) -> str:
    units = model.variables[name].attrs.get('units')
    return f'{name} [{units}]' if units else name
