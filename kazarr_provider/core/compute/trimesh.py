"""Triangle meshes of a grid window or a UGRID collection: the computation core of the `mesh` process.

A `TriMesh` holds lon/lat vertices, counter-clockwise triangles and values either per vertex
(`data_mapping='vertices'`) or per triangle (`'cells'`). Everything is vectorised numpy: no Python
object per vertex or triangle.

Conventions shared by `grid_mesh` and `ugrid_mesh`:

* Missing data leave holes: a vertex or cell is valid when its coordinates are finite and every given
  field is finite there; only triangles whose vertices (cells) are valid are made, and vertices that no
  triangle uses are dropped and the rest renumbered (no missing-value vertex in the output).
* Orientation: every triangle is counter-clockwise in the lon/lat plane (positive signed area);
  triangles are flipped where needed (a descending latitude, a mirrored projection, a clockwise UGRID
  face). Degenerate triangles (zero area) are dropped.
* Antimeridian: longitudes are made continuous inside one mesh instead of splitting triangles.
  A grid window is unwrapped in 2-D (along its rows, then row against row); a UGRID collection is cut at
  the middle of the widest longitude gap between its nodes when the usual [-180, 180) cut would cross
  triangles. Then the whole mesh is shifted by a multiple of 360 so that its westernmost node (a grid's
  westernmost cell centre: its corners may lie half a cell beyond) is in [-180, 180): vertices east of it
  may exceed 180 (e.g. 170 .. 190), so no triangle spans the globe.
  A triangle still spanning more than 180 degrees of longitude (a mesh wrapping the whole globe) gets
  copies of its western vertices at lon + 360; one still spanning more after that (around a pole) is
  dropped.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

MAPPINGS = ('vertices', 'cells')


@dataclass(frozen=True, eq=False)
class TriMesh:
    """vertices (n, 2) float64 lon/lat; triangles (m, 3) int64 counter-clockwise; values per vertex or triangle."""

    vertices: np.ndarray
    triangles: np.ndarray
    data_mapping: str = 'vertices'
    values: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        if self.data_mapping not in MAPPINGS:
            raise ValueError(f'data_mapping must be one of {MAPPINGS}, not {self.data_mapping!r}')
        size = len(self.vertices) if self.data_mapping == 'vertices' else len(self.triangles)
        for name, array in self.values.items():
            if np.shape(array) != (size,):
                raise ValueError(f'{name}: {np.shape(array)} values for {size} {self.data_mapping}')

    @property
    def n_vertices(self) -> int:
        return int(self.vertices.shape[0])

    @property
    def n_triangles(self) -> int:
        return int(self.triangles.shape[0])


# -- structured grids -------------------------------------------------------------------------------

def grid_mesh(lon, lat, values: dict[str, np.ndarray] | None = None, data_mapping: str = 'vertices',
              valid=None) -> TriMesh:
    """The triangle mesh of a structured grid window.

    `lon`, `lat`: (ny, nx) cell-centre coordinates (regular, descending, projected then transformed,
    curvilinear; 1-D axes of a regular grid are accepted too). `values`: name -> (ny, nx) array, may be
    empty (the support mesh). `valid`: optional (ny, nx) mask, ANDed with the fields' finiteness.

    'vertices': one vertex per valid data point, two triangles per quad of four valid points (split
    along the diagonal that keeps both triangles the same orientation when the quad is not convex).
    'cells': vertices at the cell corners, derived from the centres in 2-D (the mean of the four
    surrounding centres inside, linear extrapolation half a cell beyond the border centres, latitude
    clipped to +-90); each valid cell gives two triangles carrying the cell's value. A cell beside a centre
    without coordinates has no corners and is left out. A window of a single row or column has no cell
    size to extrapolate from: ValueError.
    """
    lon, lat = np.asarray(lon, dtype='float64'), np.asarray(lat, dtype='float64')
    if lon.ndim == 1 and lat.ndim == 1:
        lon, lat = np.meshgrid(lon, lat)
    if lon.ndim != 2 or lon.shape != lat.shape:
        raise ValueError(f'lon {lon.shape} and lat {lat.shape} must be the same (ny, nx) shape')
    if data_mapping not in MAPPINGS:
        raise ValueError(f'data_mapping must be one of {MAPPINGS}, not {data_mapping!r}')
    fields = {name: _float(array, lon.shape, name) for name, array in (values or {}).items()}
    ok = np.isfinite(lon) & np.isfinite(lat)
    for array in fields.values():
        ok &= np.isfinite(array)
    if valid is not None:
        ok &= np.broadcast_to(np.asarray(valid, dtype=bool), lon.shape)
    lon = _unwrap_grid(lon)
    ny, nx = lon.shape
    if data_mapping == 'vertices':
        index = np.arange(ny * nx).reshape(ny, nx)
        quads = ok[:-1, :-1] & ok[:-1, 1:] & ok[1:, 1:] & ok[1:, :-1]
        x, y = lon.ravel(), lat.ravel()
        triangles = _split_quads(x, y, *(_corners_of(index, quads)))
        return _finish(x, y, triangles, 'vertices', {k: v.ravel() for k, v in fields.items()})
    if ny < 2 or nx < 2:
        raise ValueError(f'a cell mesh needs at least 2 x 2 cells to know their size, not {ny} x {nx}')
    x, y = _cell_corners(lon), np.clip(_cell_corners(lat), -90.0, 90.0)
    corner_ok = np.isfinite(x) & np.isfinite(y)
    index = np.arange((ny + 1) * (nx + 1)).reshape(ny + 1, nx + 1)
    cells = ok & corner_ok[:-1, :-1] & corner_ok[:-1, 1:] & corner_ok[1:, 1:] & corner_ok[1:, :-1]
    x, y = x.ravel(), y.ravel()
    triangles = _split_quads(x, y, *(_corners_of(index, cells)))
    owner = np.repeat(np.flatnonzero(cells), 2)              # the cell of each triangle
    return _finish(x, y, triangles, 'cells', {k: v.ravel()[owner] for k, v in fields.items()})


def _float(array, shape, name) -> np.ndarray:
    array = np.asarray(array)
    if array.shape != tuple(shape):
        raise ValueError(f'{name}: shape {array.shape}, expected {tuple(shape)}')
    return array if array.dtype.kind == 'f' else array.astype('float64')


def _corners_of(index: np.ndarray, cells: np.ndarray):
    """The four corner indices (south-west, south-east, north-east, north-west in index order) of the cells."""
    return (index[:-1, :-1][cells], index[:-1, 1:][cells], index[1:, 1:][cells], index[1:, :-1][cells])


def _unwrap_grid(lon: np.ndarray) -> np.ndarray:
    """Longitudes without 360-degree jumps between neighbours: rows first, then each row against the previous."""
    finite = np.isfinite(lon)
    if not finite.any():
        return lon
    columns = np.arange(lon.shape[1])
    last = np.maximum.accumulate(np.where(finite, columns, 0), axis=1)   # forward-fill gaps in each row
    filled = np.take_along_axis(lon, last, axis=1)
    turns = np.nan_to_num(np.round(np.diff(filled, axis=1) / 360.0))
    out = lon.copy()
    out[:, 1:] -= 360.0 * np.cumsum(turns, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)               # rows with no common finite column
        offset = np.nanmedian(out[1:] - out[:-1], axis=1) if lon.shape[0] > 1 else np.zeros(0)
    turns = np.nan_to_num(np.round(offset / 360.0))
    out[1:] -= 360.0 * np.cumsum(turns)[:, None]
    return out - 360.0 * np.floor((np.nanmin(out) + 180.0) / 360.0)


def _cell_corners(centres: np.ndarray) -> np.ndarray:
    """(ny + 1, nx + 1) corners: centres padded by linear extrapolation, then the mean of each 2 x 2 block."""
    ny, nx = centres.shape
    pad = np.empty((ny + 2, nx + 2))
    pad[1:-1, 1:-1] = centres
    pad[0, 1:-1] = 2.0 * centres[0] - centres[1]
    pad[-1, 1:-1] = 2.0 * centres[-1] - centres[-2]
    pad[:, 0] = 2.0 * pad[:, 1] - pad[:, 2]
    pad[:, -1] = 2.0 * pad[:, -2] - pad[:, -3]
    return 0.25 * (pad[:-1, :-1] + pad[:-1, 1:] + pad[1:, :-1] + pad[1:, 1:])


def _area2(xa, ya, xb, yb, xc, yc) -> np.ndarray:
    """Twice the signed area of triangles a-b-c given their corner coordinates: positive when counter-clockwise."""
    return (xb - xa) * (yc - ya) - (xc - xa) * (yb - ya)


def _split_quads(x, y, a, b, c, d) -> np.ndarray:
    """Two triangles per quad a-b-c-d (interleaved: quad q gives rows 2q, 2q + 1), along a-c unless only b-d
    gives two triangles of one orientation (a non-convex quad of a curvilinear grid)."""
    xa, ya, xb, yb, xc, yc, xd, yd = x[a], y[a], x[b], y[b], x[c], y[c], x[d], y[d]
    s1, s2 = np.sign(_area2(xa, ya, xb, yb, xc, yc)), np.sign(_area2(xa, ya, xc, yc, xd, yd))
    t1, t2 = np.sign(_area2(xa, ya, xb, yb, xd, yd)), np.sign(_area2(xb, yb, xc, yc, xd, yd))
    other = ((s1 != s2) | (s1 == 0)) & (t1 == t2) & (t1 != 0)
    out = np.empty((a.size, 2, 3), dtype='int64')
    out[:, 0, 0], out[:, 0, 1], out[:, 0, 2] = a, b, np.where(other, d, c)
    out[:, 1, 0], out[:, 1, 1], out[:, 1, 2] = np.where(other, b, a), c, d
    return out.reshape(-1, 3)


# -- UGRID collections ------------------------------------------------------------------------------

def ugrid_mesh(node_lon, node_lat, face_nodes, node_values: dict[str, np.ndarray] | None = None,
               face_values: dict[str, np.ndarray] | None = None, keep_nodes=None, *,
               start_index: int = 0, fill_value=None) -> TriMesh:
    """The triangle mesh of a UGRID 2-D topology (`kazarr_provider.core.mesh` reads the same arrays).

    `face_nodes`: the (n_face, k) face_node_connectivity table as stored: `start_index` is subtracted;
    entries equal to `fill_value`, below `start_index` (the usual -1 fill with start 0) or NaN (a table
    xarray decoded with its _FillValue) are missing, for polygons of fewer than k nodes. Faces are
    fan-triangulated (k nodes -> k - 2 triangles from their first node: exact for convex polygons).
    `node_values` (per node, data_mapping 'vertices') or `face_values` (per face, replicated onto its
    triangles, 'cells'); not both. `keep_nodes`: optional boolean mask of the nodes to keep (e.g. those in
    a bbox); a face is kept when all its nodes are kept (and, with node values, finite in every field)
    and, with face values, its values are finite in every field.
    """
    x = np.asarray(node_lon, dtype='float64').ravel()
    y = np.asarray(node_lat, dtype='float64').ravel()
    if x.shape != y.shape:
        raise ValueError(f'node_lon {x.shape} and node_lat {y.shape} differ')
    node_values, face_values = dict(node_values or {}), dict(face_values or {})
    if node_values and face_values:
        raise ValueError('give node_values or face_values, not both')
    table = np.asarray(face_nodes)
    if table.ndim != 2:
        raise ValueError(f'face_nodes must be (n_face, k), not {table.shape}')
    n_face, k = table.shape
    with np.errstate(invalid='ignore'):
        missing = ~np.isfinite(table) | (table < start_index) if table.dtype.kind == 'f' else table < start_index
    if fill_value is not None:
        missing |= table == fill_value
    nodes = (np.where(missing, start_index, table) - start_index).astype('int64')
    if nodes.size and nodes.max() >= x.size:
        raise ValueError(f'face_node_connectivity refers to node {int(nodes.max())} of {x.size}')
    node_ok = np.isfinite(x) & np.isfinite(y)
    if keep_nodes is not None:
        node_ok &= np.asarray(keep_nodes, dtype=bool).ravel()
    node_fields = {name: _float(v, x.shape, name) for name, v in node_values.items()}
    for array in node_fields.values():
        node_ok &= np.isfinite(array)
    face_fields = {name: _float(v, (n_face,), name) for name, v in face_values.items()}
    face_ok = (missing | node_ok[nodes]).all(axis=1) & ((~missing).sum(axis=1) >= 3)
    for array in face_fields.values():
        face_ok &= np.isfinite(array)
    # missing entries to the end of each row, then a fan from the first node
    order = np.argsort(missing, axis=1, kind='stable')
    nodes = np.take_along_axis(nodes, order, axis=1)
    count = (~missing).sum(axis=1)
    parts, owners = [], []
    for t in range(1, k - 1):
        faces = np.flatnonzero(face_ok & (count > t + 1))
        parts.append(np.column_stack([nodes[faces, 0], nodes[faces, t], nodes[faces, t + 1]]))
        owners.append(faces)
    triangles = np.concatenate(parts) if parts else np.zeros((0, 3), 'int64')
    owner = np.concatenate(owners) if owners else np.zeros(0, 'int64')
    grouped = np.argsort(owner, kind='stable')                    # a face's triangles next to each other
    triangles, owner = triangles[grouped], owner[grouped]
    x = _cut_longitudes(x, triangles)
    if face_fields:
        return _finish(x, y, triangles, 'cells', {name: v[owner] for name, v in face_fields.items()})
    return _finish(x, y, triangles, 'vertices', node_fields)


def _spans(x: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """The longitude extent of each triangle."""
    a, b, c = x[triangles[:, 0]], x[triangles[:, 1]], x[triangles[:, 2]]
    return np.maximum(np.maximum(a, b), c) - np.minimum(np.minimum(a, b), c)


def _cut_longitudes(x: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Longitudes in [-180, 180), or cut at the middle of the widest gap between the used nodes when the
    antimeridian crosses triangles and that gap crosses none."""
    x = np.mod(x + 180.0, 360.0) - 180.0
    if not triangles.size or not (_spans(x, triangles) > 180.0).any():
        return x
    used = np.unique(x[triangles])
    gaps = np.diff(np.append(used, used[0] + 360.0))
    widest = int(np.argmax(gaps))
    cut = used[widest] + gaps[widest] / 2.0
    shifted = cut + np.mod(x - cut, 360.0)
    if (_spans(shifted, triangles) > 180.0).any():                # the mesh wraps the globe
        return x
    return shifted - 360.0 * np.floor((shifted[triangles].min() + 180.0) / 360.0)


# -- shared ending --------------------------------------------------------------------------------

def _finish(x: np.ndarray, y: np.ndarray, triangles: np.ndarray, data_mapping: str,
            values: dict[str, np.ndarray]) -> TriMesh:
    """Seam copies, counter-clockwise orientation, degenerate triangles and unused vertices dropped."""
    triangles = np.asarray(triangles, dtype='int64').reshape(-1, 3)
    per_vertex = data_mapping == 'vertices'
    source = np.arange(x.size)                     # the original vertex of each (possibly copied) vertex
    spans = _spans(x, triangles)
    wide = np.flatnonzero(spans > 180.0)
    if wide.size:
        corners = x[triangles[wide]]
        west = corners < corners.max(axis=1, keepdims=True) - 180.0
        copied = np.unique(triangles[wide][west])
        position = np.searchsorted(copied, triangles[wide])
        x = np.concatenate([x, x[copied] + 360.0])
        y = np.concatenate([y, y[copied]])
        source = np.concatenate([source, copied])
        triangles = triangles.copy()
        triangles[wide] = np.where(west, source.size - copied.size + position, triangles[wide])
        spans[wide] = _spans(x, triangles[wide])
    t0, t1, t2 = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    area = _area2(x[t0], y[t0], x[t1], y[t1], x[t2], y[t2])
    keep = np.isfinite(area) & (area != 0) & (spans <= 180.0)
    triangles, area = triangles[keep], area[keep]
    clockwise = area < 0
    triangles[clockwise] = triangles[clockwise][:, [0, 2, 1]]
    used = np.zeros(x.size, dtype=bool)
    used[triangles.ravel()] = True
    renumber = np.cumsum(used) - 1
    vertices = np.column_stack([x[used], y[used]])
    if per_vertex:
        out = {name: np.ascontiguousarray(v[source[used]]) for name, v in values.items()}
    else:
        out = {name: np.ascontiguousarray(v[keep]) for name, v in values.items()}
    return TriMesh(vertices, renumber[triangles].astype('int64', copy=False), data_mapping, out)
