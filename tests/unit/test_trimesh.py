"""Triangle meshes of grid windows and UGRID collections (core.compute.trimesh) and their encoders.

Expected values come from analytic fields and geometry (cell edges at centre +- half a cell, areas of
known polygons, Euler characteristics), never from the code under test.
"""
from __future__ import annotations

import io

import numpy as np
import orjson
import pytest
import xarray as xr

from kazarr_provider.core.compute.trimesh import TriMesh, grid_mesh, ugrid_mesh
from kazarr_provider.core.mesh import build_mesh
from kazarr_provider.formats import to_mesh_json, to_ugrid


def f(lon, lat):
    """An analytic field, periodic in longitude."""
    return np.sin(np.radians(lon)) * np.cos(np.radians(lat)) + lat / 90.0


def signed_area2(mesh: TriMesh) -> np.ndarray:
    x, y = mesh.vertices[:, 0], mesh.vertices[:, 1]
    a, b, c = mesh.triangles.T
    return (x[b] - x[a]) * (y[c] - y[a]) - (x[c] - x[a]) * (y[b] - y[a])


def check_triangles(mesh: TriMesh) -> None:
    """Indices in range, every vertex used, counter-clockwise, no two triangles overlapping along an edge."""
    n = mesh.n_vertices
    assert mesh.vertices.shape == (n, 2) and mesh.vertices.dtype == np.float64
    assert mesh.triangles.ndim == 2 and mesh.triangles.shape[1] == 3 and mesh.triangles.dtype == np.int64
    assert np.isfinite(mesh.vertices).all()
    if mesh.n_triangles:
        assert mesh.triangles.min() >= 0 and mesh.triangles.max() < n
    assert np.array_equal(np.unique(mesh.triangles), np.arange(n))          # no unused vertex
    assert (signed_area2(mesh) > 0).all()                                  # counter-clockwise
    t = mesh.triangles
    directed = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
    assert len(np.unique(directed, axis=0)) == len(directed)               # a consistent planar orientation
    size = n if mesh.data_mapping == 'vertices' else mesh.n_triangles
    assert all(v.shape == (size,) for v in mesh.values.values())


def euler(mesh: TriMesh) -> int:
    t = mesh.triangles
    edges = np.sort(np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]]), axis=1)
    return mesh.n_vertices - len(np.unique(edges, axis=0)) + mesh.n_triangles


def valid_quads(ok: np.ndarray) -> int:
    """Counted the slow way: quads whose four points are valid."""
    ny, nx = ok.shape
    return sum(1 for i in range(ny - 1) for j in range(nx - 1)
               if ok[i, j] and ok[i, j + 1] and ok[i + 1, j] and ok[i + 1, j + 1])


LON = np.arange(-10.0, 10.01, 0.5)        # 41 centres
LAT = np.arange(30.0, 45.01, 0.5)         # 31 centres


def regular(lon=LON, lat=LAT):
    x, y = np.meshgrid(lon, lat)
    return x, y, f(x, y)


# -- vertices --------------------------------------------------------------------------------------

def test_vertices_regular_window():
    x, y, field = regular()
    mesh = grid_mesh(x, y, {'f': field})
    check_triangles(mesh)
    assert mesh.data_mapping == 'vertices'
    assert mesh.n_vertices == 41 * 31
    assert mesh.n_triangles == 2 * 40 * 30
    assert euler(mesh) == 1
    lon, lat = mesh.vertices.T
    np.testing.assert_allclose(mesh.values['f'], f(lon, lat), rtol=0, atol=1e-12)
    assert lon.min() == -10 and lon.max() == 10 and lat.min() == 30 and lat.max() == 45
    # every triangle is half a grid cell: 0.5 x 0.5 / 2
    np.testing.assert_allclose(signed_area2(mesh) / 2, 0.125)


def test_vertices_nan_holes():
    x, y, field = regular()
    field[10:13, 15:18] = np.nan                   # a 3 x 3 hole in the middle
    mesh = grid_mesh(x, y, {'f': field})
    check_triangles(mesh)
    ok = np.isfinite(field)
    assert mesh.n_triangles == 2 * valid_quads(ok)
    assert mesh.n_vertices == 41 * 31 - 9
    assert euler(mesh) == 1 - 1
    nan_points = {(a, b) for a, b in zip(x[~ok], y[~ok])}
    assert not nan_points & {(a, b) for a, b in mesh.vertices}
    np.testing.assert_allclose(mesh.values['f'], f(*mesh.vertices.T), atol=1e-12)
    assert np.isfinite(mesh.values['f']).all()

    field[20, 30] = np.nan                         # a second hole (one point)
    field[0, 0] = np.nan                           # a bitten corner is no hole
    field[30, 40 - 2], field[29, 40 - 1] = np.nan, np.nan   # isolates the last corner point (30, 40)
    mesh = grid_mesh(x, y, {'f': field})
    check_triangles(mesh)
    assert mesh.n_triangles == 2 * valid_quads(np.isfinite(field))
    assert euler(mesh) == 1 - 2
    assert (10.0, 45.0) not in {(a, b) for a, b in mesh.vertices}          # valid but in no triangle


def test_valid_mask_and_several_fields():
    x, y, field = regular()
    mask = np.ones(x.shape, bool)
    mask[5, 5] = False
    support = grid_mesh(x, y, {}, valid=mask)
    check_triangles(support)
    assert support.values == {}
    assert support.n_triangles == 2 * (40 * 30 - 4) and euler(support) == 0
    other = np.cos(np.radians(y))
    other[5, 5] = np.nan                           # NaN in one field only: the point goes
    both = grid_mesh(x, y, {'f': field, 'g': other})
    assert np.array_equal(both.vertices, support.vertices)
    assert np.array_equal(both.triangles, support.triangles)
    np.testing.assert_allclose(both.values['g'], np.cos(np.radians(both.vertices[:, 1])), atol=1e-12)


# -- cells -----------------------------------------------------------------------------------------

def test_cells_regular_window():
    lat = np.arange(30.0, 37.51, 0.25)             # dy = 0.25 while dx = 0.5
    x, y, field = regular(lat=lat)
    ny, nx = x.shape
    mesh = grid_mesh(x, y, {'f': field}, data_mapping='cells')
    check_triangles(mesh)
    assert mesh.data_mapping == 'cells'
    assert mesh.n_triangles == 2 * nx * ny
    assert mesh.n_vertices == (nx + 1) * (ny + 1)
    assert euler(mesh) == 1
    # corners at centre +- half a cell
    np.testing.assert_allclose(np.unique(mesh.vertices[:, 0]), np.arange(-10.25, 10.26, 0.5), atol=1e-12)
    np.testing.assert_allclose(np.unique(mesh.vertices[:, 1]), np.arange(29.875, 37.626, 0.25), atol=1e-12)
    # each triangle carries f at the centre of the cell holding it
    centroid = mesh.vertices[mesh.triangles].mean(axis=1)
    column = np.floor((centroid[:, 0] + 10.25) / 0.5).astype(int)
    row = np.floor((centroid[:, 1] - 29.875) / 0.25).astype(int)
    np.testing.assert_allclose(mesh.values['f'], f(LON[column], lat[row]), atol=1e-12)
    np.testing.assert_allclose(signed_area2(mesh) / 2, 0.5 * 0.25 / 2)


def test_cells_nan_cells():
    x, y, field = regular()
    field[0, 0] = np.nan                           # its south-west corner belongs to no other cell
    field[10:12, 10:12] = np.nan
    mesh = grid_mesh(x, y, {'f': field}, data_mapping='cells')
    check_triangles(mesh)
    assert mesh.n_triangles == 2 * int(np.isfinite(field).sum())
    assert mesh.n_vertices == 42 * 32 - 1 - 1      # the corner, and the one vertex inside the 2 x 2 hole
    assert euler(mesh) == 0
    assert (-10.25, 29.75) not in {(a, b) for a, b in mesh.vertices}
    assert np.isfinite(mesh.values['f']).all()


def test_cells_need_two_rows_and_columns():
    x, y, field = regular(lat=np.array([40.0]))
    with pytest.raises(ValueError):
        grid_mesh(x, y, {'f': field}, data_mapping='cells')
    mesh = grid_mesh(x, y, {'f': field})           # one row of points: no quad, an empty mesh
    assert mesh.n_triangles == 0 and mesh.n_vertices == 0 and mesh.values['f'].shape == (0,)


# -- orientation, curvilinear ----------------------------------------------------------------------

@pytest.mark.parametrize('lon_step, lat_step', [(1, -1), (-1, 1), (-1, -1)])
@pytest.mark.parametrize('mapping', ['vertices', 'cells'])
def test_descending_axes_give_ccw_triangles(lon_step, lat_step, mapping):
    x, y, field = regular(LON[::lon_step], LAT[::lat_step])
    mesh = grid_mesh(x, y, {'f': field}, data_mapping=mapping)
    check_triangles(mesh)
    assert mesh.n_triangles == 2 * 40 * 30 if mapping == 'vertices' else 2 * 41 * 31
    assert euler(mesh) == 1
    if mapping == 'vertices':
        np.testing.assert_allclose(mesh.values['f'], f(*mesh.vertices.T), atol=1e-12)
    else:
        assert np.unique(mesh.vertices[:, 0]).min() == pytest.approx(-10.25)
        assert np.unique(mesh.vertices[:, 1]).max() == pytest.approx(45.25)


def affine(i, j, theta=np.radians(30)):
    """A rotated, anisotropic grid: (row i, column j) -> lon/lat."""
    u, v = 0.3 * j, 0.2 * i
    return 5 + u * np.cos(theta) - v * np.sin(theta), 40 + u * np.sin(theta) + v * np.cos(theta)


@pytest.mark.parametrize('mirror', [False, True])
def test_curvilinear_rotated_grid(mirror):
    i, j = np.mgrid[0:20, 0:25].astype(float)
    if mirror:
        j = j[:, ::-1]                             # a mirrored projection: clockwise quads
    x, y = affine(i, j)
    mesh = grid_mesh(x, y, {'f': f(x, y)})
    check_triangles(mesh)
    assert mesh.n_triangles == 2 * 19 * 24 and euler(mesh) == 1
    np.testing.assert_allclose(mesh.values['f'], f(*mesh.vertices.T), atol=1e-12)

    cells = grid_mesh(x, y, {'f': f(x, y)}, data_mapping='cells')
    check_triangles(cells)
    assert cells.n_triangles == 2 * 20 * 25 and euler(cells) == 1
    ci, cj = np.mgrid[-0.5:20, -0.5:25]            # corners at half-integer grid indices
    if mirror:
        cj = cj[:, ::-1]
    np.testing.assert_allclose(cells.vertices, np.column_stack([c.ravel() for c in affine(ci, cj)]), atol=1e-12)
    centroid = cells.vertices[cells.triangles].mean(axis=1)
    # the cell of each triangle: invert the affine map at its centroid, round to the nearest centre
    theta = np.radians(30)
    du, dv = centroid[:, 0] - 5, centroid[:, 1] - 40
    row = np.round((-du * np.sin(theta) + dv * np.cos(theta)) / 0.2)
    col = np.round((du * np.cos(theta) + dv * np.sin(theta)) / 0.3)
    expected = f(*affine(row, col))
    np.testing.assert_allclose(cells.values['f'], expected, atol=1e-12)


def test_non_convex_quad_is_split_along_its_inner_diagonal():
    """A dart (0,0) (0.5,1.5) (2,2) (0,2): its reflex corner (0.5,1.5) must be on the diagonal."""
    lon = np.array([[0.0, 0.5], [0.0, 2.0]])
    lat = np.array([[0.0, 1.5], [2.0, 2.0]])
    mesh = grid_mesh(lon, lat, {})
    check_triangles(mesh)
    assert mesh.n_triangles == 2
    assert signed_area2(mesh).sum() / 2 == pytest.approx(1.0)     # the shoelace area of the dart
    reflex = 1                                                    # vertex order: (0,0) (0.5,1.5) (0,2) (2,2)
    assert all(reflex in t for t in mesh.triangles)


def test_curvilinear_polar_grid():
    """An annulus sector (radius x angle), strongly curved; the rows run anticlockwise then clockwise."""
    r, a = np.meshgrid(np.linspace(2, 4, 15), np.radians(np.linspace(10, 170, 40)), indexing='ij')
    for angle in (a, a[:, ::-1]):
        x, y = r * np.cos(angle), 20 + r * np.sin(angle)
        for mapping in ('vertices', 'cells'):
            mesh = grid_mesh(x, y, {'f': f(x, y)}, data_mapping=mapping)
            check_triangles(mesh)
            assert euler(mesh) == 1
            assert mesh.n_triangles == (2 * 14 * 39 if mapping == 'vertices' else 2 * 15 * 40)
        # the triangles tile the region between the outer rows: pi (R^2 - r^2) * 160/360, up to the chords
        area = signed_area2(grid_mesh(x, y, {})).sum() / 2
        assert area == pytest.approx(np.pi * (16 - 4) * 160 / 360, rel=2e-3)


# -- antimeridian ----------------------------------------------------------------------------------

@pytest.mark.parametrize('mapping', ['vertices', 'cells'])
def test_window_across_the_antimeridian(mapping):
    lon = np.arange(170.0, 190.01, 1.0)
    x, y = np.meshgrid((lon + 180) % 360 - 180, np.arange(0.0, 10.01, 1.0))     # 170 .. 179, -180 .. -170
    mesh = grid_mesh(x, y, {'f': f(x, y)}, data_mapping=mapping)
    check_triangles(mesh)
    assert euler(mesh) == 1
    spans = np.ptp(mesh.vertices[mesh.triangles][..., 0], axis=1)
    assert spans.max() <= 1.0 + 1e-9
    half = 0.5 if mapping == 'cells' else 0.0
    assert mesh.vertices[:, 0].min() == pytest.approx(170 - half)
    assert mesh.vertices[:, 0].max() == pytest.approx(190 + half)                  # beyond 180
    if mapping == 'vertices':
        assert mesh.n_triangles == 2 * 20 * 10
        np.testing.assert_allclose(mesh.values['f'], f(*mesh.vertices.T), atol=1e-12)
    else:
        assert mesh.n_triangles == 2 * 21 * 11


def test_window_in_0_360_longitudes():
    x, y, _ = regular(lon=np.arange(200.0, 220.01, 1.0))
    mesh = grid_mesh(x, y, {'f': f(x, y)})
    assert mesh.vertices[:, 0].min() == pytest.approx(-160) and mesh.vertices[:, 0].max() == pytest.approx(-140)
    np.testing.assert_allclose(mesh.values['f'], f(*mesh.vertices.T), atol=1e-12)


# -- UGRID -----------------------------------------------------------------------------------------

NODE_LON = np.array([0.0, 1.0, 1.0, 0.0, 2.0])
NODE_LAT = np.array([0.0, 0.0, 1.0, 1.0, 0.5])
FACES = np.array([[0, 1, 2, 3], [1, 4, 2, -1]])          # the unit square and a triangle east of it


def triangle_areas(mesh):
    return signed_area2(mesh) / 2


@pytest.mark.parametrize('faces', [FACES, np.array([[3, 2, 1, 0], [2, 4, 1, -1]])])     # ccw, then clockwise
def test_ugrid_fan_triangulation(faces):
    mesh = ugrid_mesh(NODE_LON, NODE_LAT, faces, face_values={'depth': np.array([10.0, 20.0])})
    check_triangles(mesh)
    assert mesh.data_mapping == 'cells'
    assert mesh.n_triangles == 2 + 1 and mesh.n_vertices == 5
    assert euler(mesh) == 1
    np.testing.assert_array_equal(mesh.values['depth'], [10.0, 10.0, 20.0])
    areas = triangle_areas(mesh)
    assert areas[:2].sum() == pytest.approx(1.0) and areas[2] == pytest.approx(0.5)

    nodes = ugrid_mesh(NODE_LON, NODE_LAT, faces, node_values={'f': f(NODE_LON, NODE_LAT)})
    check_triangles(nodes)
    assert nodes.data_mapping == 'vertices' and nodes.n_triangles == 3
    np.testing.assert_allclose(nodes.values['f'], f(*nodes.vertices.T), atol=1e-12)


def test_ugrid_kept_nodes_and_missing_values():
    keep = np.array([True, True, True, True, False])
    mesh = ugrid_mesh(NODE_LON, NODE_LAT, FACES, face_values={'d': np.array([1.0, 2.0])}, keep_nodes=keep)
    check_triangles(mesh)
    assert mesh.n_triangles == 2 and mesh.n_vertices == 4
    assert 2.0 not in mesh.vertices[:, 0]
    # a NaN face value drops the face; its own nodes go with it
    mesh = ugrid_mesh(NODE_LON, NODE_LAT, FACES, face_values={'d': np.array([1.0, np.nan])})
    assert mesh.n_triangles == 2 and mesh.n_vertices == 4 and (mesh.values['d'] == 1.0).all()
    # a NaN node value drops every face around the node
    values = f(NODE_LON, NODE_LAT)
    values[0] = np.nan
    mesh = ugrid_mesh(NODE_LON, NODE_LAT, FACES, node_values={'f': values})
    check_triangles(mesh)
    assert mesh.n_triangles == 1 and mesh.n_vertices == 3
    with pytest.raises(ValueError):
        ugrid_mesh(NODE_LON, NODE_LAT, FACES, node_values={'f': values}, face_values={'d': np.ones(2)})


def test_ugrid_stored_connectivity_tables():
    """1-based with a _FillValue, and the float table xarray gives after decoding the fill into NaN."""
    expected = ugrid_mesh(NODE_LON, NODE_LAT, FACES)
    one_based = np.where(FACES < 0, -999, FACES + 1)
    for table, kwargs in ((one_based, {'start_index': 1, 'fill_value': -999}),
                          (np.where(FACES < 0, np.nan, FACES + 0.0), {})):
        mesh = ugrid_mesh(NODE_LON, NODE_LAT, table, **kwargs)
        assert np.array_equal(mesh.triangles, expected.triangles)
        assert np.array_equal(mesh.vertices, expected.vertices)


def test_ugrid_across_the_antimeridian():
    lon = np.array([178.0, -179.0, -179.0, 178.0, -177.0])   # the FACES layout, 3 degrees wide, across 180
    lat = NODE_LAT
    mesh = ugrid_mesh(lon, lat, FACES, node_values={'f': f(lon, lat)})
    check_triangles(mesh)
    assert mesh.n_triangles == 3 and mesh.n_vertices == 5 and euler(mesh) == 1
    np.testing.assert_allclose(sorted(set(mesh.vertices[:, 0])), [178.0, 181.0, 183.0])
    np.testing.assert_allclose(mesh.values['f'], f(*mesh.vertices.T), atol=1e-12)


def test_ugrid_ring_around_the_globe():
    """Quads all around the equator: no free meridian, the crossing quad gets copies of its western nodes."""
    lon = np.tile(np.arange(0.0, 360.0, 30.0), 2)
    lat = np.repeat([-10.0, 10.0], 12)
    i = np.arange(12)
    faces = np.column_stack([i, (i + 1) % 12, (i + 1) % 12 + 12, i + 12])
    mesh = ugrid_mesh(lon, lat, faces, node_values={'f': f(lon, lat)})
    check_triangles(mesh)
    assert mesh.n_triangles == 24
    assert mesh.n_vertices == 24 + 2                   # the two nodes at 180 (-180) twice
    assert euler(mesh) == 1                            # cut open: a rectangle, not a band
    assert np.ptp(mesh.vertices[mesh.triangles][..., 0], axis=1).max() == pytest.approx(30)
    np.testing.assert_allclose(mesh.values['f'], f(*mesh.vertices.T), atol=1e-12)


# -- encoders --------------------------------------------------------------------------------------

ATTRS = {'f': {'units': 'K', 'standard_name': 'air_temperature', 'long_name': 'temperature',
               '_FillValue': -1.0, 'grid_mapping': 'x'}}


@pytest.mark.parametrize('mapping', ['vertices', 'cells'])
def test_ugrid_netcdf_read_back(mapping):
    x, y, field = regular()
    field[3, 3] = np.nan
    mesh = grid_mesh(x, y, {'f': field}, data_mapping=mapping)
    data = to_ugrid.encode(mesh, ATTRS)
    assert data[:3] == b'CDF' and to_ugrid.MEDIA_TYPE == 'application/x-netcdf'
    with xr.open_dataset(io.BytesIO(data)) as ds:
        assert ds.attrs['Conventions'] == 'CF-1.8 UGRID-1.0'
        topology = ds['mesh'].attrs
        assert topology['cf_role'] == 'mesh_topology' and topology['topology_dimension'] == 2
        assert topology['node_coordinates'] == 'mesh_node_x mesh_node_y'
        assert topology['face_node_connectivity'] == 'mesh_face_nodes'
        assert topology['face_dimension'] == 'nMesh_face'
        faces = ds['mesh_face_nodes']
        assert faces.dims[0] == 'nMesh_face' and faces.shape == (mesh.n_triangles, 3)
        assert faces.encoding['dtype'] == np.int32 and faces.encoding['_FillValue'] == -1    # MDAL wants one
        assert faces.attrs['cf_role'] == 'face_node_connectivity' and faces.attrs['start_index'] == 0
        np.testing.assert_array_equal(faces.values, mesh.triangles)
        # the project's own UGRID reader takes it back: same nodes, same triangles
        read = build_mesh(ds)
        np.testing.assert_array_equal(read.faces, mesh.triangles)
        np.testing.assert_allclose(read.locations[read.node_dim].lat, mesh.vertices[:, 1])
        node_x, node_y = ds['mesh_node_x'], ds['mesh_node_y']
        assert node_x.attrs['standard_name'] == 'longitude' and node_x.attrs['units'] == 'degrees_east'
        assert node_y.attrs['standard_name'] == 'latitude' and node_y.attrs['units'] == 'degrees_north'
        np.testing.assert_array_equal(np.column_stack([node_x.values, node_y.values]), mesh.vertices)
        values = ds['f']
        assert values.attrs['mesh'] == 'mesh'
        assert values.attrs['location'] == ('node' if mapping == 'vertices' else 'face')
        assert values.dims == (('nMesh_node',) if mapping == 'vertices' else ('nMesh_face',))
        assert values.attrs['units'] == 'K' and values.attrs['standard_name'] == 'air_temperature'
        assert values.attrs['grid_mapping'] == 'crs' and np.isnan(values.encoding['_FillValue'])
        np.testing.assert_array_equal(values.values, mesh.values['f'])
        if mapping == 'vertices':
            np.testing.assert_allclose(values.values, f(node_x.values, node_y.values), atol=1e-12)
        assert ds['crs'].attrs['grid_mapping_name'] == 'latitude_longitude'
        assert 'CRS84' in ds['crs'].attrs['wkt']


def test_ugrid_netcdf_keeps_nan_and_empty_meshes():
    mesh = TriMesh(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), np.array([[0, 1, 2]]), 'vertices',
                   {'v': np.array([1.0, np.nan, 3.0])})
    with xr.open_dataset(io.BytesIO(to_ugrid.encode(mesh))) as ds:
        np.testing.assert_array_equal(ds['v'].values, [1.0, np.nan, 3.0])
    empty = grid_mesh(*regular()[:2], {'f': np.full((31, 41), np.nan)})
    with xr.open_dataset(io.BytesIO(to_ugrid.encode(empty))) as ds:
        assert ds['mesh_face_nodes'].shape == (0, 3) and ds['f'].shape == (0,)
    with xr.open_dataset(io.BytesIO(to_ugrid.encode(mesh)), mask_and_scale=False) as ds:
        assert ds['mesh_face_nodes'].dtype == np.int32 and ds['mesh_face_nodes'].attrs['_FillValue'] == -1


def test_mesh_json():
    mesh = TriMesh(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), np.array([[0, 1, 2]]), 'vertices',
                   {'v': np.array([1.0, np.nan, 3.0], dtype='float32')})
    document = orjson.loads(to_mesh_json.encode(mesh))
    assert document == {'crs': 'http://www.opengis.net/def/crs/OGC/1.3/CRS84',
                        'vertices': [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], 'triangles': [[0, 1, 2]],
                        'data_mapping': 'vertices', 'values': {'v': [1.0, None, 3.0]}}
    x, y, field = regular()
    cells = grid_mesh(x, y, {'f': field}, data_mapping='cells')
    document = orjson.loads(to_mesh_json.encode(cells))
    assert len(document['triangles']) == cells.n_triangles == len(document['values']['f'])
    assert document['data_mapping'] == 'cells'


# -- size (its time is measured in bench/processes_bench.py, not asserted here) ------------------------

@pytest.mark.parametrize('mapping', ['vertices', 'cells'])
def test_400_by_400_window_triangle_count(mapping):
    x, y = np.meshgrid(np.linspace(-20, 20, 400), np.linspace(30, 70, 400))
    mesh = grid_mesh(x, y, {'f': f(x, y)}, data_mapping=mapping)
    assert mesh.n_triangles == (2 * 399 * 399 if mapping == 'vertices' else 2 * 400 * 400)
