"""Choosing the resolution level of a multiscale store for a decimation request.

`resolution-x`/`resolution-y` (EDR: the number of positions wanted along
each axis across the requested region) pick the coarsest level whose cells
are at least that fine; `resolution-limit` (Kazarr: at most that many cells
per axis) picks the finest level that stays under it.
"""
from __future__ import annotations

import numpy as np
import shapely

from .query import Query


def region_extent(model, query: Query) -> tuple[float, float] | None:
    """Width and height of the requested region in the grid's own units (None for point queries)."""
    if query.kind == 'cube':
        west, south, east, north = query.bbox
        east = east + 360.0 if east < west else east
        region = shapely.box(west, south, east, north)
    elif query.kind == 'area':
        region = query.polygon
    else:
        return None
    ring = shapely.get_coordinates(shapely.segmentize(region.boundary, 0.25))
    x, y = model.native(ring[:, 0], ring[:, 1])
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return None
    return float(np.ptp(x[ok])), float(np.ptp(y[ok]))


def choose_level(levels, query: Query, resolution: dict):
    """The level to read (finest first in `levels`), or None to read the finest."""
    if not levels or not resolution:
        return None
    extent = region_extent(levels[0].model, query)
    if extent is None:
        return None
    width, height = extent
    if 'limit' in resolution:
        limit = resolution['limit']
        for level in levels:                               # finest first: the first under the limit
            dx, dy = level.cell
            if width / dx <= limit and height / dy <= limit:
                return level
        return levels[-1]
    want_x = width / resolution['x'] if 'x' in resolution else np.inf
    want_y = height / resolution['y'] if 'y' in resolution else np.inf
    return coarsest_within(levels, want_x, want_y)


# float32 coordinates (MUR) put a level's cell a few 1e-8 off its nominal size: a level exactly as fine
# as asked must still qualify
CELL_TOLERANCE = 1e-6


def coarsest_within(levels, want_x: float, want_y: float):
    """The coarsest level (of `levels`, finest first) whose cells are at most want_x by want_y; the
    finest when none is that fine."""
    chosen = levels[0]
    for level in levels:
        dx, dy = level.cell
        if dx <= want_x * (1 + CELL_TOLERANCE) and dy <= want_y * (1 + CELL_TOLERANCE):
            chosen = level
    return chosen


def unmet_limit(level, query: Query, resolution: dict) -> str | None:
    """What to tell the client when even the coarsest level has more cells per axis than resolution-limit."""
    if 'limit' not in resolution:
        return None
    extent = region_extent(level.model, query)
    if extent is None:
        return None
    dx, dy = level.cell
    across, down = extent[0] / dx, extent[1] / dy
    if across <= resolution['limit'] and down <= resolution['limit']:
        return None
    return (f'resolution-limit={resolution["limit"]} not met: the coarsest level ({level.name}) gives about '
            f'{across:.0f} x {down:.0f} cells across the region; served from it, not decimated further')
