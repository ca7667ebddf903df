"""CF discrete-sampling NetCDF answers, and corridors selected by geodesic distance on WGS84.

Expected values come from the analytic fields in kazarr_provider.demo and from
pyproj's Geod, never from the server's own code.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest
import xarray as xr
from pyproj import Geod
from scipy.io import netcdf_file

from helpers import coverages, covjson, get
from kazarr_provider import demo
from test_http_queries import ERA5, POLY, T06, era5_cells_within, grid_cells

GEOD = Geod(ellps='WGS84')
START = 1704067200                         # 2024-01-01T00:00:00Z
FEATURE_TYPES = {'point', 'timeSeries', 'profile', 'trajectory', 'timeSeriesProfile', 'trajectoryProfile'}
CF_ROLE = {'timeSeries': 'timeseries_id', 'timeSeriesProfile': 'timeseries_id', 'trajectory': 'trajectory_id',
           'profile': 'profile_id'}


def netcdf(http, path, tmp_path, **params):
    response = get(http, path, f='NetCDF', **params)
    assert response.status_code == 200, response.text
    assert response.headers['Content-Type'].startswith('application/x-netcdf')
    target = tmp_path / 'answer.nc'
    target.write_bytes(response.content)
    return target


def raw_attrs(target) -> dict[str, dict]:
    """Each variable's attributes as stored (before any decoding)."""
    with netcdf_file(target, 'r', mmap=False) as f:
        return {name: {k: (v.decode() if isinstance(v, bytes) else v) for k, v in var._attributes.items()}
                for name, var in f.variables.items()}


def cf_check(target, feature=None) -> xr.Dataset:
    """The CF rules this project promises: featureType, one cf_role, no _FillValue on coordinates, axes."""
    ds = xr.open_dataset(target)
    attrs = raw_attrs(target)
    assert ds.attrs['Conventions'].startswith('CF-')
    coordinate_names = set(ds.coords)
    for name in coordinate_names:
        assert '_FillValue' not in attrs[name], f'coordinate {name} has a _FillValue'
        assert 'missing_value' not in attrs[name]
    if 'time' in ds.variables:
        assert attrs['time']['axis'] == 'T' and attrs['time']['standard_name'] == 'time'
    for name in ds.variables:
        if attrs[name].get('standard_name') == 'longitude' and ds[name].ndim <= 1:
            assert attrs[name]['axis'] == 'X'
        if attrs[name].get('standard_name') == 'latitude' and ds[name].ndim <= 1:
            assert attrs[name]['axis'] == 'Y'
    if feature is not None:
        assert ds.attrs['featureType'] == feature
    if 'featureType' in ds.attrs:
        assert ds.attrs['featureType'] in FEATURE_TYPES
        role = CF_ROLE.get(ds.attrs['featureType'])
        if role:
            assert [n for n in ds.variables if attrs[n].get('cf_role') == role], f'no {role} variable'
    # every data variable's auxiliary coordinates exist
    for name in ds.data_vars:
        for coord in attrs[name].get('coordinates', '').split():
            assert coord in ds.variables
    return ds


def hours(da):
    return (da - np.datetime64('2024-01-01T00:00')) / np.timedelta64(1, 'h')


def test_trajectory_one_step_has_time_along_obs(http, tmp_path):
    target = netcdf(http, f'{ERA5}/trajectory', tmp_path, coords='LINESTRING(0 40,5 42.5,10 45)', z='850',
                    datetime=T06, **{'parameter-name': 't'})
    ds = cf_check(target, 'trajectory')
    assert ds['t'].dims == ('obs',)
    assert ds['time'].dims == ('obs',) and ds['level'].dims == ('obs',)
    assert 'z' not in ds.variables                                 # the vertical keeps its own name
    assert ds['level'].attrs['units'] == 'hPa' and ds['level'].attrs['axis'] == 'Z'
    assert list(hours(ds['time']).values) == [6.0, 6.0, 6.0]
    np.testing.assert_allclose(ds['longitude'].values, [0, 5, 10])
    expected = demo.era5_temperature(np.array([0, 5, 10.0]), np.array([40, 42.5, 45]), 850, 6)
    np.testing.assert_allclose(ds['t'].values, expected, atol=1e-3)


def test_trajectory_several_steps_one_trajectory_each(http, tmp_path):
    target = netcdf(http, f'{ERA5}/trajectory', tmp_path, coords='LINESTRING(0 40,5 42.5,10 45)',
                    z='850', datetime='2024-01-01T00:00:00Z/2024-01-01T12:00:00Z', **{'parameter-name': 't'})
    ds = cf_check(target, 'trajectory')
    assert ds['t'].dims == ('trajectory', 'obs') and ds.sizes['trajectory'] == 3
    assert ds['time'].dims == ('trajectory', 'obs')
    assert list(ds['trajectory_id'].values) == [0, 1, 2]
    h = hours(ds['time']).values
    np.testing.assert_array_equal(h, np.repeat([[0.0], [6.0], [12.0]], 3, axis=1))
    expected = demo.era5_temperature(ds['longitude'].values, np.array([40, 42.5, 45]), ds['level'].values, h)
    np.testing.assert_allclose(ds['t'].values, expected, atol=1e-3)


def test_trajectory_m_each_vertex_at_its_time(http, tmp_path):
    coords = f'LINESTRING M(0 40 {START + 3600}, 10 45 {START + 16 * 3600})'
    target = netcdf(http, f'{ERA5}/trajectory', tmp_path, coords=coords, z='850',
                    **{'parameter-name': 't', 'time-interpolation': 'linear'})
    ds = cf_check(target, 'trajectory')
    assert ds['time'].dims == ('obs',)
    assert list(hours(ds['time']).values) == [1.0, 16.0]
    np.testing.assert_allclose(ds['t'].values, demo.era5_temperature(np.array([0, 10.0]), np.array([40, 45.0]),
                                                                     850, np.array([1, 16.0])), atol=1e-3)


def test_position_with_levels_and_times_is_a_time_series_profile(http, tmp_path):
    target = netcdf(http, f'{ERA5}/position', tmp_path, coords='MULTIPOINT((10 45),(20 50))',
                    **{'parameter-name': 't'})
    ds = cf_check(target, 'timeSeriesProfile')
    assert ds['t'].dims == ('station', 'time', 'level')
    assert ds['station_id'].attrs['cf_role'] == 'timeseries_id'
    assert ds['longitude'].dims == ('station',)
    lon, lat = ds['longitude'].values[:, None, None], ds['latitude'].values[:, None, None]
    expected = demo.era5_temperature(lon, lat, ds['level'].values[None, None, :],
                                     hours(ds['time']).values[None, :, None])
    np.testing.assert_allclose(ds['t'].values, expected, atol=1e-3)


def test_position_with_times_only_is_a_time_series(http, tmp_path):
    target = netcdf(http, f'{POLY}/position', tmp_path, coords='POINT(3 4)', **{'parameter-name': 'bilinear'})
    ds = cf_check(target, 'timeSeries')
    assert ds['bilinear'].dims == ('station', 'time')
    np.testing.assert_allclose(ds['bilinear'].values[0], demo.bilinear_field(3, 4, hours(ds['time']).values),
                               atol=1e-9)


def test_position_without_time_or_level_is_a_point(http, tmp_path):
    target = netcdf(http, f'{ERA5}/position', tmp_path, coords='POINT(10 45)', **{'parameter-name': 'z_sfc'})
    ds = cf_check(target, 'point')
    assert ds['z_sfc'].dims == ('station',)
    assert ds['z_sfc'].values[0] == pytest.approx(demo.era5_orography(10, 45), rel=1e-6)


def test_grids_keep_their_shape_and_lose_coordinate_fill_values(http, tmp_path):
    target = netcdf(http, f'{ERA5}/cube', tmp_path, bbox='0,40,10,50', z='850', datetime=T06,
                    **{'parameter-name': 't'})
    ds = cf_check(target)
    assert 'featureType' not in ds.attrs
    assert ds['t'].dims == ('time', 'level', 'latitude', 'longitude')
    lon, lat = np.meshgrid(ds['longitude'].values, ds['latitude'].values)
    np.testing.assert_allclose(ds['t'].values[0, 0], demo.era5_temperature(lon, lat, 850, 6), atol=1e-3)


def test_multipoint_radius_groups_say_which_block_they_are(http, tmp_path):
    centres = [(10.0, 45.0), (100.0, -30.0), (-60.0, 10.0)]
    target = netcdf(http, f'{ERA5}/radius', tmp_path, coords='MULTIPOINT((10 45),(100 -30),(-60 10))',
                    within='300', z='850', datetime=T06, **{'within-units': 'km', 'parameter-name': 't'})
    ds = cf_check(target)
    assert set(ds.data_vars) == {'t', 't_1', 't_2'}
    for (lon0, lat0), name, suffix in zip(centres, ('t', 't_1', 't_2'), ('', '_1', '_2')):
        var = ds[name]
        lon, lat = np.meshgrid(ds['longitude' + suffix].values, ds['latitude' + suffix].values)
        keep = ~np.isnan(var.values[0, 0])
        got = {(round(((x + 180) % 360) - 180, 6), round(y, 6)) for x, y in zip(lon[keep], lat[keep])}
        assert got == era5_cells_within(lon0, lat0, 300_000 * (1 - 1e-9))
        assert var.attrs['block_index'] == ('', '_1', '_2').index(suffix)
        assert (var.attrs['block_centre_lon'], var.attrs['block_centre_lat']) == (lon0, lat0)
        west, east = var.attrs['block_lon_range']
        south, north = var.attrs['block_lat_range']
        assert south <= lat0 <= north and west <= lon0 <= east          # the group's extent holds its centre
        assert south == pytest.approx(lat[keep].min()) and north == pytest.approx(lat[keep].max())


# ---- corridor: geodesic distance to the path on WGS84 ------------------------------------------------------

def brute_distance(lon, lat, path, fine=200.0):
    """Distance (m) from each cell to the path, by brute force: the path sampled every `fine` m on its geodesics.

    A coarse pass (every 20 km) bounds each distance from above; only cells near the boundary get the fine pass.
    """
    def sample(spacing):
        xs, ys = [], []
        for (x0, y0), (x1, y1) in zip(path[:-1], path[1:]):
            r = GEOD.inv_intermediate(x0, y0, x1, y1, del_s=spacing, initial_idx=0, terminus_idx=0,
                                      return_back_azimuth=True)
            xs += list(r.lons)
            ys += list(r.lats)
        return np.array(xs), np.array(ys)

    def min_distance(px, py, sx, sy):
        out = np.empty(px.size)
        for start in range(0, px.size, 200):
            x, y = px[start:start + 200, None], py[start:start + 200, None]
            d = GEOD.inv(np.broadcast_to(x, (x.size, sx.size)), np.broadcast_to(y, (x.size, sx.size)),
                         np.broadcast_to(sx, (x.size, sx.size)), np.broadcast_to(sy, (x.size, sx.size)))[2]
            out[start:start + 200] = d.min(axis=1)
        return out

    sx, sy = sample(20_000.0)
    # a spherical pre-filter (within 1 %) spares Geod.inv for cells plainly far from the path
    lon_r, lat_r, sx_r, sy_r = map(np.radians, (lon[:, None], lat[:, None], sx[None], sy[None]))
    chord = np.sin((lat_r - sy_r) / 2) ** 2 + np.cos(lat_r) * np.cos(sy_r) * np.sin((lon_r - sx_r) / 2) ** 2
    sphere = 2 * 6371008.8 * np.arcsin(np.sqrt(chord)).min(axis=1)
    coarse = np.full(lon.size, np.inf)
    close = sphere < 2.0 * HALF_MAX
    coarse[close] = min_distance(lon[close], lat[close], sx, sy)
    return coarse, sample(fine), min_distance


HALF_MAX = 100_000.0           # the corridors below are narrower than twice this


@functools.lru_cache(maxsize=None)
def _truth_cached(key):
    lon, lat, path, half = key
    return corridor_truth(np.array(lon), np.array(lat), [tuple(p) for p in path], half)


def corridor_truth(lon, lat, path, half):
    """Distance to the path, exact to ~1 m where it matters: near the boundary.

    The coarse distance (to samples 20 km apart) is never below the true one and exceeds it by at most
    hypot(d, 10 km) - d; cells whose coarse distance lies below 0.999 half are inside and off the boundary
    band, those beyond hypot(half, 10 km) (plus a margin) are outside; the rest get the fine pass.
    """
    coarse, fine_path, min_distance = brute_distance(lon, lat, path)
    distance = coarse.copy()
    near = (coarse >= 0.999 * half) & (coarse <= np.hypot(half, 10_000.0) * 1.001 + 500.0)
    distance[near] = min_distance(lon[near], lat[near], *fine_path)
    return distance


def check_corridor(lon_all, lat_all, got, path, half):
    distance = _truth_cached((tuple(lon_all), tuple(lat_all), tuple(path), half))
    truth = {(round(x, 6), round(y, 6)) for x, y in zip(lon_all[distance <= half], lat_all[distance <= half])}
    differ = truth ^ got
    index = {(round(x, 6), round(y, 6)): d for x, y, d in zip(lon_all, lat_all, distance)}
    assert all(abs(index[c] - half) <= 1e-3 * half for c in differ), \
        sorted((c, index[c] - half) for c in differ)[:10]
    assert len(differ) <= max(2, len(truth) // 100)
    return truth


def test_corridor_in_miles_uses_geodesic_distance(http):
    path = [(-20.0, 10.0), (20.0, 12.0)]
    half = 100 * 1609.344 / 2
    doc = covjson(get(http, f'{POLY}/corridor', coords='LINESTRING(-20 10,20 12)', datetime=T06,
                      **{'corridor-width': '100', 'width-units': 'mi', 'parameter-name': 'bilinear'}))
    lon, lat, values = grid_cells(coverages(doc)[0], 'bilinear')
    got = {(round(x, 6), round(y, 6)) for x, y in zip(lon, lat)}
    np.testing.assert_allclose(values, demo.bilinear_field(lon, lat, 6.0), atol=1e-9)
    # the audited cell: (1E, 11N) lies 82.25 km from the path, beyond the 80.47 km half-width
    d = GEOD.inv(np.full(20001, 1.0), np.full(20001, 11.0),
                 *np.array(GEOD.npts(-20, 10, 20, 12, 20001)).T)[2].min()
    assert d > half * 1.01 and (1.0, 11.0) not in got
    all_lon, all_lat = np.meshgrid(np.arange(-30.0, 30.5), np.arange(20.0, -20.5, -1.0))
    check_corridor(all_lon.ravel(), all_lat.ravel(), got, path, half)


def test_long_mid_latitude_corridor_matches_brute_force(http):
    # ~3300 km across the Mediterranean at 35-45N on the 0.1 degree SST grid, 120 km wide
    path = [(-5.0, 35.5), (12.0, 42.0), (34.0, 33.0)]
    half = 60_000.0
    coords = 'LINESTRING(' + ','.join(f'{x} {y}' for x, y in path) + ')'
    length = sum(GEOD.inv(x0, y0, x1, y1)[2] for (x0, y0), (x1, y1) in zip(path[:-1], path[1:]))
    assert length >= 2_000_000
    doc = covjson(get(http, '/collections/sst_med/corridor', coords=coords, datetime='2024-07-01T00:00:00Z',
                      **{'corridor-width': '120', 'width-units': 'km'}))
    lon, lat, values = grid_cells(coverages(doc)[0], 'analysed_sst')
    got = {(round(x, 6), round(y, 6)) for x, y in zip(lon, lat)}
    np.testing.assert_allclose(values, demo.sst(lon, lat, 0.0), atol=6e-4)     # int16 packing step 0.001
    grid_lon = np.round(np.arange(-6.0, 36.0, 0.1) + 0.05, 6)
    grid_lat = np.round(np.arange(30.0, 46.0, 0.1) + 0.05, 6)
    all_lon, all_lat = np.meshgrid(grid_lon, grid_lat)
    sea = ~demo.sst_is_land(all_lon, all_lat)                  # land cells are missing in the answer
    all_lon, all_lat = all_lon[sea], all_lat[sea]
    # cells far from the path are cheap to rule out: the path's box grown by 1.5 degrees
    box = (all_lon > -7) & (all_lon < 35.5) & (all_lat > 31.4) & (all_lat < 43.6)
    truth = check_corridor(all_lon[box], all_lat[box], got, path, half)
    assert len(truth) > 1000


def test_a_narrow_corridor_on_a_long_path_is_exact(http):
    # 1 m wide along 11 000 km of the equator (a geodesic): exactly the cells centred on it
    doc = covjson(get(http, f"{ERA5}/corridor", coords="LINESTRING(0 0,100 0)", z='850', datetime=T06,
                      **{'corridor-width': '1', 'width-units': 'm', 'parameter-name': 't'}))
    cov = coverages(doc)[0]
    x = np.array(cov['domain']['axes']['x']['values'])
    y = np.array(cov['domain']['axes']['y']['values'])
    values = np.array([np.nan if v is None else v for v in cov['ranges']['t']['values']]).reshape(y.size, x.size)
    rows, cols = np.nonzero(~np.isnan(values))
    assert set(y[rows]) == {0.0}
    np.testing.assert_allclose(np.sort(x[cols]), np.arange(0.0, 100.1, 2.5))
    np.testing.assert_allclose(values[rows, cols], demo.era5_temperature(x[cols], 0.0, 850, 6), atol=1e-3)
