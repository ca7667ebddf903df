"""Which selector answers a query: meshes, point samples or grid cells."""
from __future__ import annotations

import xarray as xr

from ..blocks import Block
from ..model import GridModel
from ..query import Query
from .grids import select_grid
from .mesh import select_mesh
from .points import select_points


def select(ds: xr.Dataset, model: GridModel, query: Query, limit: int) -> list[Block]:
    if model.mesh is not None:
        return select_mesh(ds, model, query, limit)
    if query.kind in ('position', 'trajectory') or (query.kind == 'radius' and query.interpolation.spatial != 'nearest'):
        # radius with an interpolation method: the value at each centre, from the cells within the circle
        return select_points(ds, model, query, limit)
    return select_grid(ds, model, query, limit)
