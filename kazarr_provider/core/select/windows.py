"""Windows of a grid: the rectangle of cells under a region, cut straight from the axes (lon/lat grids)
or from the region's outline transformed to the grid's CRS (projected, curvilinear grids).

`lonlat_windows` / `native_windows` cut many windows in one pass (radius centres), each exactly as
`lonlat_window` / `native_window` cuts one: index ranges come from vectorised look-ups on the axes,
outlines are projected in one transform, and the cells' lon/lat in one more. A region that holds no
cell yields a reason instead of a window.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from ...errors import NoData
from ..coords import Axis
from ..model import GridModel
from .plan import check_size
from .regions import DENSIFY_DEGREES

NO_CELL = 'the requested region holds no cell centre of the data'
OUTSIDE_PROJECTION = 'the requested region lies outside the projection of the data'
BATCH_CELLS = 2_000_000        # cells (or region x outline-point pairs) handled in one vectorised pass


@dataclass
class Window:
    xi: np.ndarray                  # storage indices along x / y
    yi: np.ndarray
    x: np.ndarray                   # the answer's axis values (lon unwrapped on lon/lat grids; metres if projected)
    y: np.ndarray
    lon: np.ndarray                 # (ny, nx) cell-centre longitude/latitude, for masks and lon/lat outputs
    lat: np.ndarray
    inside: np.ndarray | None = None
    centre: tuple[float, float] | None = None     # the radius centre (lon, lat) this window was cut around

    def crop(self, inside: np.ndarray, what: str) -> 'Window':
        if not inside.any():
            raise NoData(f'the {what} holds no cell centre of the data')
        rows, cols = np.nonzero(inside)
        r, c = slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)
        return Window(self.xi[c], self.yi[r], self.x[c], self.y[r], self.lon[r, c], self.lat[r, c], inside[r, c])


def batches(sizes: np.ndarray, budget: int = BATCH_CELLS):
    """Consecutive slices of items whose sizes add up to about `budget` (at least one item each)."""
    ends = np.cumsum(sizes)
    start = 0
    while start < len(sizes):
        base = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, base + budget, side='right')))
        yield slice(start, stop)
        start = stop


def _ranges(axis: Axis, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised `Axis.between`: the storage index range [start, stop) of centres in [lo, hi] each."""
    first = np.searchsorted(axis.sorted, lo, side='left')
    last = np.maximum(np.searchsorted(axis.sorted, hi, side='right'), first)
    if axis.descending:
        return axis.size - last, axis.size - first
    return first, last


def _ragged(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """concatenate(arange(s, s + c) for s, c in zip(starts, counts))."""
    total = int(counts.sum())
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + (np.arange(total) - offsets)


def lonlat_window(model: GridModel, west: float, south: float, east: float, north: float, limit: int) -> Window:
    full_circle = east - west >= 360
    xi, lon = model.x_axis.between_wrapped(west, west + 360 if full_circle else east)
    yi = model.y_axis.between(south, north)
    if xi.size == 0 or yi.size == 0:
        raise NoData(NO_CELL)
    # masks are computed over the whole window: refuse before allocating them
    check_size(xi.size * yi.size, limit)
    lat = model.y_values[yi]
    lon_grid, lat_grid = np.meshgrid(lon, lat)
    return Window(xi, yi, lon, lat, lon_grid, lat_grid)


def _wrapped_x(model: GridModel, west: np.ndarray, east: np.ndarray):
    """Vectorised `LonAxis.between_wrapped` (as `lonlat_window` calls it): per region the count of x cells,
    and the concatenated storage indices and unwrapped longitudes, region after region."""
    ax = model.x_axis
    east = np.where(east - west >= 360, west + 360, east)
    span = east - west
    span = np.minimum(np.where(span < 0, span + 360.0, span), 360.0)
    start = ax.fold(west)
    stop = start + span
    top = ax.origin + 360.0
    a0, a1 = _ranges(ax, start, np.minimum(stop, top))
    # the part past the seam, without the cells of the first part ([origin, stop - 360] lies below it)
    wrap = stop > top
    b0, b1 = _ranges(ax, np.full(west.shape, ax.origin), np.where(wrap, stop - 360.0, -np.inf))
    if ax.descending:
        # storage order: the seam part has the larger storage indices; drop those the first part holds
        b0 = np.maximum(b0, a1)
    else:
        b1 = np.minimum(b1, a0)
    b1 = np.where(wrap, np.maximum(b1, b0), b0)
    first_n, second_n = a1 - a0, b1 - b0
    counts = first_n + second_n
    region = np.repeat(np.arange(west.size), counts)
    piece = np.concatenate([_ragged(a0, first_n), _ragged(b0, second_n)])
    owner = np.concatenate([np.repeat(np.arange(west.size), first_n), np.repeat(np.arange(west.size), second_n)])
    seam = np.concatenate([np.zeros(int(first_n.sum()), bool), np.ones(int(second_n.sum()), bool)])
    order = np.argsort(owner, kind='stable')            # region by region, the first part before the seam part
    xi, seam = piece[order], seam[order]
    lon = ax.sorted[ax.size - 1 - xi if ax.descending else xi] + np.where(seam, 360.0, 0.0)
    # each run is reported in the -180..180 convention where it allows it
    heads = np.cumsum(counts) - counts
    shift = np.zeros(west.size, bool)
    shift[counts > 0] = lon[heads[counts > 0]] >= 180.0
    lon = lon - np.where(shift[region], 360.0, 0.0)
    return counts, xi, lon


def lonlat_windows(model: GridModel, west, south, east, north, limit: int) -> list[Window | str]:
    """`lonlat_window` for many boxes at once: a Window, or the reason there is none, per box.

    Refuses (413) as `lonlat_window` would for the first box (in order) that holds cells over `limit`.
    """
    west, east = np.asarray(west, dtype='float64'), np.asarray(east, dtype='float64')
    nx, xi, lon = _wrapped_x(model, west, east)
    y0, y1 = _ranges(model.y_axis, south, north)
    ny = y1 - y0
    empty = (nx == 0) | (ny == 0)
    size = np.where(empty, 0, nx * ny)
    if (size > limit).any():
        check_size(int(size[np.argmax(size > limit)]), limit)
    x_heads = np.cumsum(nx) - nx
    out: list[Window | str] = []
    for k in range(west.size):
        if empty[k]:
            out.append(NO_CELL)
            continue
        x_run = slice(x_heads[k], x_heads[k] + nx[k])
        yi = np.arange(y0[k], y1[k])
        lat = model.y_values[yi]
        out.append(Window(xi[x_run], yi, lon[x_run], lat, None, None))
    return out


def flat_cells(windows: list[Window], x: str = 'x', y: str = 'y') -> tuple[np.ndarray, np.ndarray]:
    """Every window's cells, window after window, row-major: the windows' `x`/`y` attributes (axis
    values, or 'xi'/'yi' for storage indices) paired per cell."""
    if not windows:
        return np.zeros(0), np.zeros(0)
    nx = np.array([getattr(w, x).size for w in windows])
    ny = np.array([getattr(w, y).size for w in windows])
    cells = nx * ny
    owner = np.repeat(np.arange(len(windows)), cells)
    k = np.arange(int(cells.sum())) - np.repeat(np.cumsum(cells) - cells, cells)
    xs = np.concatenate([getattr(w, x) for w in windows])
    ys = np.concatenate([getattr(w, y) for w in windows])
    x_heads, y_heads = np.cumsum(nx) - nx, np.cumsum(ny) - ny
    return xs[x_heads[owner] + k % nx[owner]], ys[y_heads[owner] + k // nx[owner]]


def cells_lonlat(windows: list[Window]) -> tuple[np.ndarray, np.ndarray]:
    """Flat lon/lat of every window's cells, window after window, row-major. Lon/lat windows cut by
    `lonlat_windows` have no lon/lat grids (not building them is the point): theirs come from x/y."""
    if windows and windows[0].lon is not None:
        return (np.concatenate([w.lon.ravel() for w in windows]),
                np.concatenate([w.lat.ravel() for w in windows]))
    return flat_cells(windows)


def crop_many(windows: list[Window], lon: np.ndarray, lat: np.ndarray, inside: np.ndarray) -> list[Window | None]:
    """`Window.crop` for many windows at once, given their cells' flat lon/lat and mask (as `cells_lonlat`
    lays them out); None for a window whose mask holds no cell."""
    nx = np.array([w.x.size for w in windows])
    ny = np.array([w.y.size for w in windows])
    cells = nx * ny
    heads = np.cumsum(cells) - cells
    owner = np.repeat(np.arange(len(windows)), cells)
    k = np.arange(int(cells.sum())) - heads[owner]
    row, col = k // nx[owner], k % nx[owner]
    big = np.iinfo(np.int64).max
    r0 = np.minimum.reduceat(np.where(inside, row, big), heads)
    r1 = np.maximum.reduceat(np.where(inside, row, -1), heads)
    c0 = np.minimum.reduceat(np.where(inside, col, big), heads)
    c1 = np.maximum.reduceat(np.where(inside, col, -1), heads)
    out: list[Window | None] = []
    for j, window in enumerate(windows):
        if r1[j] < 0:
            out.append(None)
            continue
        shape = (ny[j], nx[j])
        part = slice(heads[j], heads[j] + cells[j])
        r, c = slice(r0[j], r1[j] + 1), slice(c0[j], c1[j] + 1)
        out.append(Window(window.xi[c], window.yi[r], window.x[c], window.y[r], lon[part].reshape(shape)[r, c],
                          lat[part].reshape(shape)[r, c], inside[part].reshape(shape)[r, c]))
    return out


def native_window(model: GridModel, region, limit: int) -> Window:
    """The grid cells under a lon/lat region, for a projected (or curvilinear) grid."""
    window = native_windows(model, np.array([region], dtype=object), limit)[0]
    if isinstance(window, str):
        raise NoData(window)
    return window


def _covered_outline(model: GridModel, regions: np.ndarray, bounds: np.ndarray):
    """(region, outline point) pairs: the grid outline's points inside each region, compared in the
    region's own longitude frame. Pairs outside a region's bounds are never tested (they cannot be in)."""
    _out_x, _out_y, out_lon, out_lat = model.outline
    pairs_r, pairs_p = [], []
    per = max(1, BATCH_CELLS // max(out_lon.size, 1))
    for part in batches(np.ones(regions.size, dtype=np.int64), per):
        west, south, east, north = (b[part, None] for b in bounds.T)
        folded = west + np.mod(out_lon[None, :] - west, 360.0)
        r, p = np.nonzero((folded >= west) & (folded <= east) & (out_lat >= south) & (out_lat <= north))
        r = r + part.start
        inside = shapely.contains_xy(regions[r], folded[r - part.start, p], out_lat[p])
        pairs_r.append(r[inside])
        pairs_p.append(p[inside])
    return np.concatenate(pairs_r), np.concatenate(pairs_p)


def native_windows(model: GridModel, regions: np.ndarray, limit: int) -> list[Window | str]:
    """`native_window` for many lon/lat regions: a Window, or the reason there is none, per region."""
    ring, owner = shapely.get_coordinates(shapely.segmentize(shapely.boundary(regions), DENSIFY_DEGREES),
                                          return_index=True)
    x, y = model.native(ring[:, 0], ring[:, 1], clip=True)
    finite = np.isfinite(x) & np.isfinite(y)
    n = regions.size
    lo_x, hi_x, lo_y, hi_y = np.full(n, np.inf), np.full(n, -np.inf), np.full(n, np.inf), np.full(n, -np.inf)
    np.minimum.at(lo_x, owner[finite], x[finite])
    np.maximum.at(hi_x, owner[finite], x[finite])
    np.minimum.at(lo_y, owner[finite], y[finite])
    np.maximum.at(hi_y, owner[finite], y[finite])
    # a region wider than the grid (a 15 000 km circle around a UTM tile) has its outline far outside the
    # projection: the grid's own outline points inside the region say what of the grid it covers
    out_x, out_y, _out_lon, _out_lat = model.outline
    r, p = _covered_outline(model, regions, shapely.bounds(regions))
    np.minimum.at(lo_x, r, out_x[p])
    np.maximum.at(hi_x, r, out_x[p])
    np.minimum.at(lo_y, r, out_y[p])
    np.maximum.at(hi_y, r, out_y[p])
    outside = ~np.isfinite(lo_x)
    x0, x1 = _ranges(model.x_axis, np.where(outside, 0.0, lo_x), np.where(outside, -1.0, hi_x))
    y0, y1 = _ranges(model.y_axis, np.where(outside, 0.0, lo_y), np.where(outside, -1.0, hi_y))
    nx, ny = np.where(outside, 0, x1 - x0), np.where(outside, 0, y1 - y0)
    size = nx * ny
    if (size > limit).any():
        check_size(int(size[np.argmax(size > limit)]), limit)
    out: list[Window | str] = [OUTSIDE_PROJECTION if outside[k] else NO_CELL if size[k] == 0 else None
                               for k in range(n)]
    kept = [k for k in range(n) if out[k] is None]
    for part in batches(size[kept]):
        chunk = kept[part]
        grids = [np.meshgrid(model.x_values[x0[k]:x1[k]], model.y_values[y0[k]:y1[k]]) for k in chunk]
        lon, lat = model.lonlat(np.concatenate([g[0].ravel() for g in grids]),
                                np.concatenate([g[1].ravel() for g in grids]))
        lon, lat = np.asarray(lon, dtype='float64'), np.asarray(lat, dtype='float64')
        head = 0
        for k in chunk:
            xi, yi = np.arange(x0[k], x1[k]), np.arange(y0[k], y1[k])
            cells = slice(head, head + size[k])
            head += size[k]
            out[k] = Window(xi, yi, model.x_values[xi], model.y_values[yi],
                            lon[cells].reshape(yi.size, xi.size), lat[cells].reshape(yi.size, xi.size))
    return out
