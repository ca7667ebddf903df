"""Which selector answers a query: meshes, point samples or grid cells."""
from __future__ import annotations

import xarray as xr

from ..model import GridModel
from ..query import Query
from .grids import select_grid
from .mesh import select_mesh
from .plan import Selected
from .points import select_points

__all__ = ['Selected', 'select']


def select(ds: xr.Dataset, model: GridModel, query: Query, limit: int) -> Selected:
    """The blocks answering `query`, with what the selector decided (`Selected.multi`, `.vertical`)."""
    if model.mesh is not None:
        return select_mesh(ds, model, query, limit)
    if query.kind in ('position', 'trajectory') or (query.kind == 'radius'
                                                    and query.interpolation.spatial != 'nearest'):
        # radius with an interpolation method: the value at each centre, from the cells within the circle
        return select_points(ds, model, query, limit)
    return select_grid(ds, model, query, limit)
