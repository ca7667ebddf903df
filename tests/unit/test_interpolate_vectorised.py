"""Spatial interpolation computed for all points at once: checked against closed formulas, not against our code.

- cubic (4x4 tensor Lagrange) reproduces any polynomial of degree <= 3 in each of lon and lat;
- rbf reproduces the polynomials its augmentation spans (degree 1 for thin_plate_spline and cubic, 2 for
  quintic), with or without smoothing: the local frame is linear in lon and in lat around each point;
- inverse-bilinear quad weights (curvilinear grids) and barycentric triangle weights (meshes) reproduce a
  field linear in lon/lat;
- n points at once give what n one-point calls give (missing values included).
"""
from __future__ import annotations

import numpy as np
import pytest

from kazarr_provider import demo
from kazarr_provider.api.service import coverage_document
from kazarr_provider.core.interpolate import Neighbourhood, combine, neighbourhood_size
from kazarr_provider.data.catalogue import get_dataset
from kazarr_provider.errors import InvalidParameter


@pytest.fixture(scope='module')
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp('interp')
    makers = {'poly': demo.make_polynomial, 'era5': demo.make_era5, 'curvilinear': demo.make_curvilinear,
              'mesh': demo.make_mesh}
    for name, make in makers.items():
        make(str(root / f'{name}.zarr'))
    return {name: get_dataset(str(root / f'{name}.zarr')) for name in makers}


def _hood(model, method, params, lon, lat):
    half_x, half_y = neighbourhood_size(method, params, model, lat)
    return Neighbourhood(model, *model.native(lon, lat), half_x, half_y)


def _on_cells(hood, field):
    """(n, ky, kx) values of `field(lon, lat)` at each neighbourhood cell, in the window's own coordinates."""
    lon = np.broadcast_to(hood.lon_c[:, None, :], hood.valid.shape)
    lat = np.broadcast_to(hood.lat_c[:, :, None], hood.valid.shape)
    return np.where(hood.valid, field(lon, lat), np.nan)


def _tensor_cubic(lon, lat):
    """Degree 3 in each variable, with every cross term up to x^3 y^3."""
    x, y = lon / 10.0, lat / 10.0
    return 1.5 - x + 2 * y + x * x * y - 0.7 * x ** 3 + 0.4 * y ** 3 + 0.3 * x ** 3 * y ** 3 - 0.2 * x * y ** 2


def test_cubic_reproduces_a_tensor_cubic_at_arbitrary_points(stores):
    model = stores['poly'].model
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(-28.9, 28.9, 3000), rng.uniform(-18.9, 18.9, 3000)
    hood = _hood(model, 'cubic', {}, lon, lat)
    values = combine('cubic', {}, hood, _on_cells(hood, _tensor_cubic))
    np.testing.assert_allclose(values, _tensor_cubic(lon, lat), rtol=0, atol=1e-11)


def test_cubic_on_a_global_grid_across_the_antimeridian_and_a_descending_axis(stores):
    model = stores['era5'].model          # lon 0..357.5 (periodic), lat 90..-90 (descending)
    lon = np.array([-1.0, 359.0, 0.3, 178.9, -179.2, 357.6])
    lat = np.array([10.2, -33.3, 0.0, 45.1, -80.4, 86.0])
    hood = _hood(model, 'cubic', {}, lon, lat)
    # continuous in the window's own (unwrapped) longitudes: evaluate the formula where the window put the point
    values = combine('cubic', {}, hood, _on_cells(hood, _tensor_cubic))
    np.testing.assert_allclose(values, _tensor_cubic(hood.lon, lat), rtol=1e-12, atol=1e-11)


def test_cubic_many_points_through_the_service_match_the_formula(stores):
    rng = np.random.default_rng(11)
    lon, lat = rng.uniform(-28.5, 28.5, 500), rng.uniform(-18.5, 18.5, 500)
    coords = 'MULTIPOINT(' + ','.join(f'({x:.17g} {y:.17g})' for x, y in zip(lon, lat)) + ')'
    doc = coverage_document(stores['poly'], 'position', {'coords': coords, 'interpolation': 'cubic',
                                                         'parameter-name': 'cubic'}, 1_000_000)
    values = np.array(doc['ranges']['cubic']['values'], float)
    np.testing.assert_allclose(values, demo.cubic_field(lon, lat), rtol=0, atol=1e-9)


def test_cubic_missing_value_voids_only_its_slice_and_points_beyond_the_grid(stores):
    model = stores['poly'].model
    lon = np.array([0.5, 10.25, 29.6, -5.5])             # 29.6: beyond the last centre a 4x4 stencil needs
    lat = np.array([0.5, -3.75, 0.0, 19.7])               # 19.7: likewise
    hood = _hood(model, 'cubic', {}, lon, lat)
    one = _on_cells(hood, _tensor_cubic)
    values = np.stack([one, one.copy()])                  # two slices (e.g. two times)
    values[1, 0, 0, 3] = np.nan                           # a corner of point 0's stencil, second slice only
    out = combine('cubic', {}, hood, values)
    expected = _tensor_cubic(lon, lat)
    np.testing.assert_allclose(out[0, :2], expected[:2], atol=1e-11)
    assert np.isnan(out[1, 0]) and out[1, 1] == pytest.approx(expected[1], abs=1e-11)
    assert np.isnan(out[:, 2:]).all()


@pytest.mark.parametrize('kernel, neighbors, smoothing, degree', [
    ('thin_plate_spline', 16, 0.0, 1),
    ('thin_plate_spline', 9, 0.5, 1),          # smoothing leaves the polynomial part exact
    ('cubic', 12, 0.0, 1),
    ('quintic', 9, 0.0, 2),
])
def test_rbf_reproduces_the_polynomials_of_its_augmentation(stores, kernel, neighbors, smoothing, degree):
    model = stores['poly'].model
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(-26, 26, 400), rng.uniform(-16, 16, 400)
    if degree == 1:
        def field(x, y):
            return 4.0 + 0.8 * x - 1.3 * y
    else:
        def field(x, y):
            return 4.0 + 0.8 * x - 1.3 * y + 0.05 * x * x - 0.03 * x * y + 0.02 * y * y
    params = {'kernel': kernel, 'neighbors': neighbors, 'smoothing': smoothing}
    hood = _hood(model, 'rbf', params, lon, lat)
    values = combine('rbf', params, hood, _on_cells(hood, field))
    np.testing.assert_allclose(values, field(lon, lat), rtol=1e-8, atol=1e-8)


def test_rbf_missing_cell_among_the_chosen_voids_the_point(stores):
    model = stores['poly'].model
    params = {'kernel': 'thin_plate_spline', 'neighbors': 9, 'smoothing': 0.0}
    lon, lat = np.array([3.0, 12.4]), np.array([4.0, -7.6])
    hood = _hood(model, 'rbf', params, lon, lat)
    one = _on_cells(hood, lambda x, y: 1.0 + x + y)
    values = np.stack([one, one.copy()])
    # the cell at the point itself (3, 4) is its nearest: missing in one slice voids the point in both
    at_point = (np.abs(hood.lon_c[0][None, :] - 3.0) < 1e-9) & (np.abs(hood.lat_c[0][:, None] - 4.0) < 1e-9)
    iy, ix = np.argwhere(at_point)[0]
    values[1, 0, iy, ix] = np.nan
    out = combine('rbf', params, hood, values)
    assert np.isnan(out[:, 0]).all()
    np.testing.assert_allclose(out[:, 1], 1.0 + 12.4 - 7.6, atol=1e-9)


def test_rbf_singular_system_is_an_interpolation_params_error(stores):
    # next to the pole every nearest cell of a global grid lies on one meridian-wide band: the degree-1
    # polynomial block loses rank, as it does in scipy's RBFInterpolator
    model = stores['era5'].model
    params = {'kernel': 'thin_plate_spline', 'neighbors': 16, 'smoothing': 0.0}
    lon, lat = np.array([10.0, 20.0]), np.array([45.0, 89.9])
    hood = _hood(model, 'rbf', params, lon, lat)
    with pytest.raises(InvalidParameter) as raised:
        combine('rbf', params, hood, _on_cells(hood, lambda x, y: x + y))
    assert raised.value.field == 'interpolation-params' and 'cannot be solved' in str(raised.value)


def _cell_values(hood):
    """A field that is a function of the storage cell (not of a point), with a few missing values."""
    field = np.sin(hood.iy * 1.7 + hood.ix * 0.37) * 10.0 + hood.iy
    second = np.where((hood.iy * 7 + hood.ix * 3) % 23 == 0, np.nan, field * 0.5 - 2.0)
    return np.where(hood.valid, np.stack([field, second]), np.nan)


@pytest.mark.parametrize('method, params', [
    ('linear', {}), ('cubic', {}), ('idw', {'power': 2.0}), ('idw', {'power': 1.0, 'radius': 250.0}),
    ('rbf', {'kernel': 'thin_plate_spline', 'neighbors': 16, 'smoothing': 0.0}),
    ('rbf', {'kernel': 'gaussian', 'neighbors': 12, 'smoothing': 0.1, 'epsilon': 0.01}),
    ('rbf', {'kernel': 'quintic', 'neighbors': 12, 'smoothing': 0.0}),
])
@pytest.mark.parametrize('store', ['poly', 'era5'])
def test_many_points_at_once_equal_one_point_at_a_time(stores, store, method, params):
    model = stores[store].model
    rng = np.random.default_rng(5)
    if store == 'poly':       # some points near or beyond the edges: missing there, in both ways
        lon, lat = rng.uniform(-31, 31, 120), rng.uniform(-21, 21, 120)
    else:
        lon, lat = rng.uniform(-180, 360, 120), rng.uniform(-60, 60, 120)   # quintic: 3 rows of cells or more
    half_x, half_y = neighbourhood_size(method, params, model, lat)
    together = Neighbourhood(model, *model.native(lon, lat), half_x, half_y)
    many = combine(method, params, together, _cell_values(together))
    for p in range(lon.size):
        alone = Neighbourhood(model, *model.native(lon[p:p + 1], lat[p:p + 1]), half_x, half_y)
        one = combine(method, params, alone, _cell_values(alone))
        np.testing.assert_allclose(many[:, p], one[:, 0], rtol=1e-12, atol=1e-12, equal_nan=True)
    assert np.isfinite(many).any()


def _linear(lon, lat):
    return 7.0 + 0.6 * lon - 0.9 * lat


def test_curvilinear_quad_weights_reproduce_a_linear_field_for_all_points(stores):
    grid = stores['curvilinear'].model.curvilinear
    rng = np.random.default_rng(2)
    lon = rng.uniform(grid.lon.min() - 1, grid.lon.max() + 1, 4000)
    lat = rng.uniform(grid.lat.min() - 1, grid.lat.max() + 1, 4000)
    rows, cols, weights = grid.quad_weights(lon, lat)
    found = ~np.isnan(weights).any(axis=1)
    assert found.sum() > 1000 and (~found).sum() > 100          # both inside and outside the grid
    w = weights[found]
    assert (w >= -1e-9).all()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    corners = _linear(grid.lon[rows[found], cols[found]], grid.lat[rows[found], cols[found]])
    np.testing.assert_allclose((w * corners).sum(axis=1), _linear(lon[found], lat[found]), atol=1e-8)
    # one at a time: the same quads, the same weights
    for p in range(0, lon.size, 97):
        r, c, one = grid.quad_weights(lon[p:p + 1], lat[p:p + 1])
        np.testing.assert_array_equal(one[0], weights[p])
        if found[p]:
            np.testing.assert_array_equal(r[0], rows[p])
            np.testing.assert_array_equal(c[0], cols[p])


def test_mesh_barycentric_weights_reproduce_a_linear_field_for_all_points(stores):
    mesh = stores['mesh'].model.mesh
    nodes = mesh.locations[mesh.node_dim]
    rng = np.random.default_rng(4)
    lon = rng.uniform(nodes.lon.min() - 1, nodes.lon.max() + 1, 4000)
    lat = rng.uniform(nodes.lat.min() - 1, nodes.lat.max() + 1, 4000)
    index, weights = mesh.triangle_weights(lon, lat)
    found = (index >= 0).all(axis=1)
    assert found.sum() > 1000 and (~found).sum() > 100
    assert np.isnan(weights[~found]).all() and (index[~found] == -1).all()
    w = weights[found]
    assert (w >= -1e-9).all()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    values = _linear(nodes.lon[index[found]], nodes.lat[index[found]])
    np.testing.assert_allclose((w * values).sum(axis=1), _linear(lon[found], lat[found]), atol=1e-8)
    for p in range(0, lon.size, 97):
        i, one = mesh.triangle_weights(lon[p:p + 1], lat[p:p + 1])
        np.testing.assert_array_equal(i[0], index[p])
        np.testing.assert_array_equal(one[0], weights[p])
