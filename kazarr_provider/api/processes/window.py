"""The 2-D window a process computes on: one slice of the fields inside a bbox, with lon/lat per cell.

The selection is EDR's cube (the same windows, antimeridian handling, limits checked before reading);
what it answered at (the nearest time step, level and other dimension values) is reported as the slice.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
from pyproj import Transformer

from ...core.model import GridModel
from ...core.query import Query
from ...core.select.dispatch import select
from ...core.times import iso
from ...errors import KazarrError, NoData
from .inputs import as_input_error


@dataclass(frozen=True)
class Window:
    values: Mapping[str, np.ndarray]        # name -> (ny, nx), NaN where missing
    lon: np.ndarray                         # (ny, nx) cell centres; continuous across the antimeridian
    lat: np.ndarray
    slice: Mapping[str, object]             # 'datetime', 'z' and other dimensions: the values that answered
    units: Mapping[str, str]
    x: np.ndarray | None = None             # 1-D axes when the window is a regular lon/lat grid
    y: np.ndarray | None = None


def read_window(ds, model: GridModel, query: Query, limit: int) -> Window:
    """The fields of `query` (a one-slice cube) as 2-D arrays; NoData when the bbox holds no cell."""
    if model.mesh is not None:
        raise NoData('this collection is an unstructured mesh: it has no grid window')
    try:
        selected = select(ds, model, query, limit)
    except KazarrError as error:
        raise as_input_error(error, model) from None
    values, lon, lat, used, x, y = {}, None, None, {}, None, None
    for block in selected.blocks:
        if block.kind != 'grid':
            continue
        for name, array in block.values.items():
            array = np.asarray(array, dtype='float64')
            values[name] = array.reshape(array.shape[-2:])         # the leading axes hold one value each
        if lon is None:
            lon, lat, x, y = _cell_lonlat(block, model)
        if 't' in block.axes and block.axes['t'].size:
            used['datetime'] = iso(np.asarray(block.axes['t'][:1]), model.calendar)[0]
        if 'z' in block.axes and block.axes['z'].size:
            used['z'] = float(block.axes['z'][0])
        for dim in block.custom_dims:
            value = block.axes[dim][0]
            used[dim] = value.item() if hasattr(value, 'item') else value
    if not values or lon is None or lon.size == 0:
        raise NoData('the bbox holds no cell of the data')
    units = {name: str(model.variables[name].attrs.get('units', '')) for name in values}
    return Window(values, lon, lat, used, units, x, y)


def _cell_lonlat(block, model: GridModel):
    x, y = np.asarray(block.axes['x'], dtype='float64'), np.asarray(block.axes['y'], dtype='float64')
    if block.cell_lonlat is not None:
        lon, lat = (np.asarray(a, dtype='float64') for a in block.cell_lonlat)
        return lon, lat, None, None
    if block.native_xy:
        lon, lat = Transformer.from_crs(model.crs, 'OGC:CRS84', always_xy=True).transform(*np.meshgrid(x, y))
        return np.asarray(lon), np.asarray(lat), None, None
    lon, lat = np.meshgrid(x, y)
    return lon, lat, x, y
