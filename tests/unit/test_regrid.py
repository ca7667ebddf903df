"""Sampling onto an exact output grid: each output cell holds the value of the source cell under its centre."""
from __future__ import annotations

import numpy as np
import pytest
from pyproj import CRS, Transformer

from kazarr_provider import demo
from kazarr_provider.core.compute.regrid import OutputGrid, sample, source_indices
from kazarr_provider.core.query import AxisRequest, Query
from kazarr_provider.data.catalogue import get_dataset
from kazarr_provider.errors import NoData, TooLarge

CRS84 = CRS.from_user_input('OGC:CRS84')
UTM = CRS.from_epsg(32632)


@pytest.fixture(scope='module')
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp('regrid')
    demo.make_era5(str(root / 'era5.zarr'))
    demo.make_utm(str(root / 'utm.zarr'))
    demo.make_curvilinear(str(root / 'ocean.zarr'))
    return {name: get_dataset(str(root / f'{name}.zarr')) for name in ('era5', 'utm', 'ocean')}


def _nearest_centre(values: np.ndarray, q: np.ndarray, period: float | None = None) -> np.ndarray:
    """The source centre nearest each query value (brute force)."""
    diff = q[:, None] - values[None, :]
    if period:
        diff = (diff + period / 2) % period - period / 2
    return values[np.argmin(np.abs(diff), axis=1)]


def test_aligned_grid_across_the_antimeridian_on_descending_0_360_data(stores):
    opened = stores['era5']
    grid = OutputGrid(CRS84, 170.5, -20.5, 200.5, 19.5, 12, 16)      # 2.5 x 2.5 cells, crossing 180 (no centre on a source edge)
    query = Query('cube', time=AxisRequest(values=np.array([1704067200.0 + 6 * 3600])),
                  z=AxisRequest(values=np.array([850.0])), parameters=('t',))
    [block] = sample(opened.ds, opened.model, grid, query, 10**6)
    values = block.values['t']
    assert values.shape == (1, 1, 16, 12)
    assert np.all(np.diff(block.axes['x']) > 0) and np.all(np.diff(block.axes['y']) < 0)
    lon = _nearest_centre(np.arange(144) * 2.5, grid.x % 360, 360.0)
    lat = _nearest_centre(np.linspace(90, -90, 73), grid.y)
    expected = demo.era5_temperature(lon[None, :], lat[:, None], 850.0, 6.0)
    np.testing.assert_allclose(values[0, 0], expected, rtol=1e-6)


def test_output_cells_finer_than_the_source_repeat_its_cells(stores):
    opened = stores['era5']
    grid = OutputGrid(CRS84, 0.0, 0.0, 5.0, 5.0, 8, 8)
    rows, cols, separable = source_indices(opened.model, grid)
    assert separable and len(set(cols.tolist())) < grid.width


def test_reprojected_grid_reads_the_cell_under_each_centre(stores):
    opened = stores['utm']
    to_utm = Transformer.from_crs(CRS84, UTM, always_xy=True)
    grid = OutputGrid(CRS84, 7.0, 45.3, 8.0, 45.9, 20, 12)
    query = Query('cube', time=AxisRequest(values=np.array([opened.model.t_seconds[0]])))
    [block] = sample(opened.ds, opened.model, grid, query, 10**6)
    values = block.values['b04'][0]
    lon, lat = np.meshgrid(grid.x, grid.y)
    x, y = to_utm.transform(lon, lat)
    x_centre = 300000.0 + 1000.0 * (np.floor((x - 300000.0) / 1000.0) + 0.5)
    y_centre = 5100000.0 - 1000.0 * (np.floor((5100000.0 - y) / 1000.0) + 0.5)
    inside = (x >= 300000) & (x < 420000) & (y <= 5100000) & (y > 5000000)
    centre_lon, centre_lat = Transformer.from_crs(UTM, CRS84, always_xy=True).transform(x_centre, y_centre)
    expected = demo.lonlat_field(centre_lon, centre_lat)
    assert inside.any() and (~inside).any()
    np.testing.assert_allclose(values[inside], expected[inside], rtol=1e-5)
    assert np.isnan(values[~inside]).all()


def test_native_grid_is_aligned_and_exact(stores):
    opened = stores['utm']
    grid = OutputGrid(UTM, 310000.0, 5020000.0, 330000.0, 5040000.0, 20, 20)     # the source's own cells
    rows, cols, separable = source_indices(opened.model, grid)
    assert separable and len(set(rows.tolist())) == 20 and len(set(cols.tolist())) == 20
    query = Query('cube', time=AxisRequest(values=np.array([opened.model.t_seconds[1]])))
    [block] = sample(opened.ds, opened.model, grid, query, 10**6)
    x, y = np.meshgrid(grid.x, grid.y)
    lon, lat = Transformer.from_crs(UTM, CRS84, always_xy=True).transform(x, y)
    np.testing.assert_allclose(block.values['b04'][0], demo.lonlat_field(lon, lat) + 1, rtol=1e-5)
    assert block.native_xy


def test_curvilinear_source_is_sampled_by_nearest_cell(stores):
    opened = stores['ocean']
    lon2d, lat2d = demo.rotated_lonlat()
    grid = OutputGrid(CRS84, float(lon2d.min()), float(lat2d.min()), float(lon2d.max()), float(lat2d.max()),
                      16, 12)
    blocks = sample(opened.ds, opened.model, grid, Query('cube'), 10**6)
    name = next(iter(blocks[0].values))
    values = blocks[0].values[name].reshape(-1, 12, 16)[0]
    assert np.isfinite(values).sum() > 50


def test_outside_is_no_data_and_too_many_cells_is_refused(stores):
    opened = stores['utm']
    with pytest.raises(NoData):
        sample(opened.ds, opened.model, OutputGrid(CRS84, -60.0, -10.0, -50.0, 0.0, 4, 4), Query('cube'), 10**6)
    with pytest.raises(TooLarge):
        sample(opened.ds, opened.model, OutputGrid(UTM, 300000.0, 5000000.0, 420000.0, 5100000.0, 1200, 1000),
               Query('cube'), 10**6)
