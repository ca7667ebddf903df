"""convert: analytic NetCDF and GRIB2 in, GeoZarr out, read back through the server's own catalogue and EDR core."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fields import START, TO_LONLAT, formula, land, lonlat_dataset, utm_dataset, write_grib, write_netcdf
from kazarr_provider.api.service import coverage_document
from kazarr_provider.cli import main
from kazarr_provider.convert.pipeline import Options, convert
from kazarr_provider.data.catalogue import discover, get_dataset

SMALL = 'lat=16,lon=16'


def position(opened, lon, lat, **extra):
    return coverage_document(opened, 'position', {'coords': f'POINT({lon} {lat})', **extra}, 10**6)


def values_of(document, name):
    if document['type'] == 'CoverageCollection':
        document = next(c for c in document['coverages'] if name in c['ranges'])
    rng = document['ranges'][name]
    return np.array([np.nan if v is None else v for v in rng['values']], 'float64').reshape(rng['shape']), \
        rng['axisNames']


def block_mean(values: np.ndarray, factor: int) -> np.ndarray:
    """Mean of the valid cells of factor x factor blocks (trailing rows/columns dropped), like the pyramid."""
    ny, nx = values.shape[-2] // factor, values.shape[-1] // factor
    v = values[..., :ny * factor, :nx * factor].reshape(*values.shape[:-2], ny, factor, nx, factor)
    with np.errstate(invalid='ignore'), _quiet():
        return np.nanmean(v, axis=(-3, -1))


def gridded(lon, lat, hours):
    """The input's float32 values on a lon/lat grid (NaN in the missing box), as float64."""
    from fields import nan_box
    X, Y = np.meshgrid(lon, lat)
    values = formula(X, Y, hours).astype('float32').astype('float64')
    values[nan_box(X, Y)] = np.nan
    return values


class _quiet:
    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter('ignore', RuntimeWarning)

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)


@pytest.fixture(scope='module')
def regular(tmp_path_factory):
    """Ascending latitude, -180..180, float32 coordinates, a packed variable and a flag variable."""
    root = tmp_path_factory.mktemp('regular')
    lat, lon = np.arange(-59.0, 60.0, 2.0), np.arange(-179.0, 180.0, 2.0)
    source = write_netcdf(lonlat_dataset(lat, lon, [0.0, 6.0], coord_dtype='float32', packed=True),
                          root / 'in.nc', packed=True)
    out = root / 'out.zarr'
    assert main(['convert', str(source), str(out), '--chunks', SMALL, '-q']) == 0
    return out, lat, lon


def test_regular_grid_values_through_edr(regular):
    out, lat, lon = regular
    opened = get_dataset(str(out))
    assert [level.name for level in opened.levels] == ['0', '1', '2', '3', '4']
    assert opened.model.x == 'lon' and opened.model.crs.is_geographic
    assert opened.ds['lat'].dtype == np.float64 and opened.ds['lat'].values[1] == -57.0    # float32 coords repaired
    document = position(opened, -11, 45)
    values, _ = values_of(document, 't2m')
    np.testing.assert_allclose(values.ravel(), formula(-11, 45, np.array([0.0, 6.0])), atol=1e-4)
    packed, _ = values_of(document, 'packed')
    np.testing.assert_allclose(packed.ravel(), formula(-11, 45, np.array([0.0, 6.0])), atol=0.006)
    assert values_of(document, 'landmask')[0].ravel()[0] == land(-11, 45)
    # the missing box stays missing (the input's _FillValue -9999 masked, NaN written)
    assert np.isnan(values_of(position(opened, 105, 15), 't2m')[0]).all()
    cube = coverage_document(opened, 'cube', {'bbox': '-30,20,-10,40', 'datetime': '2024-03-01T06:00:00Z'}, 10**6)
    grid, names = values_of(cube, 't2m')
    cube = next(c for c in cube.get('coverages', [cube]) if 't2m' in c['ranges'])
    xs, ys = cube['domain']['axes']['x']['values'], cube['domain']['axes']['y']['values']
    X, Y = np.meshgrid(xs, ys)
    expected = formula(X, Y, 6.0)
    assert names[-2:] == ['y', 'x'] and grid.size == expected.size
    np.testing.assert_allclose(grid.reshape(expected.shape), expected, atol=1e-4)


def test_regular_pyramid_is_the_mean_of_blocks(regular):
    out, lat, lon = regular
    opened = get_dataset(str(out))
    X, Y = np.meshgrid(lon, lat)
    level0 = np.stack([formula(X, Y, h).astype('float32') for h in (0.0, 6.0)]).astype('float64')
    from fields import nan_box
    level0[:, nan_box(X, Y)] = np.nan
    for level in opened.levels[1:]:
        factor = 2 ** int(level.name)
        got = level.ds['t2m'].values
        np.testing.assert_allclose(got, block_mean(level0, factor), atol=1e-4, equal_nan=True)
        # coordinates are the centres of the blocks
        n = lon.size // factor
        np.testing.assert_allclose(level.ds['lon'].values, lon[:n * factor].reshape(n, factor).mean(axis=1))
    # mode for the flags: the most frequent flag of each 2 x 2 block (ties: the first flag)
    flags = land(X, Y)
    level1 = opened.levels[1].ds['landmask'].values
    blocks = flags[:level1.shape[0] * 2, :level1.shape[1] * 2].reshape(level1.shape[0], 2, level1.shape[1], 2)
    counts = np.stack([(blocks == f).sum(axis=(1, 3)) for f in (0, 1, 2)])
    np.testing.assert_array_equal(level1, np.argmax(counts, axis=0))
    attrs = json.loads((out / 'zarr.json').read_text())['attributes']
    layout = attrs['multiscales']['layout']
    assert [item['spatial:shape'] for item in layout] == [[60, 180], [30, 90], [15, 45], [7, 22], [3, 11]]
    assert layout[1]['resampling_method'] == 'average'
    assert layout[1]['kazarr:resampling_by_variable'] == {'landmask': 'mode'}
    assert layout[2]['transform'] == {'scale': [4.0, 4.0], 'translation': [0.0, 0.0]}
    assert layout[1]['spatial:transform'] == [4.0, 0.0, -180.0, 0.0, 4.0, -60.0]


def test_regular_attributes_and_conventions(regular):
    out, _, _ = regular
    root = json.loads((out / 'zarr.json').read_text())
    attrs = root['attributes']
    assert 'consolidated_metadata' in root and root['consolidated_metadata']['metadata']
    uuids = {c['uuid'] for c in attrs['zarr_conventions']}
    assert uuids == {'d35379db-88df-4056-af3a-620245f8e347', 'f17cb550-5864-4468-aeb7-f3180cfb622f',
                     '689b58e2-cf7b-45e0-9fff-9cfc0883d6b4'}
    assert attrs['proj:code'] == 'OGC:CRS84' and attrs['proj:wkt2'].startswith('GEOGCRS')
    assert attrs['history'].splitlines()[0].endswith(f'-> {out}') and 'convert' in attrs['history']
    assert attrs['history'].splitlines()[1] == 'made by fields.py'
    assert attrs['kazarr:conversions'][0]['inputs'][0].endswith('in.nc')
    level = json.loads((out / '0' / 'zarr.json').read_text())['attributes']
    assert level['spatial:dimensions'] == ['lat', 'lon'] and level['spatial:shape'] == [60, 180]
    t2m = json.loads((out / '0' / 't2m' / 'zarr.json').read_text())
    assert t2m['attributes']['_FillValue'] is not None and t2m['attributes']['grid_mapping'] == 'spatial_ref'
    assert t2m['attributes']['standard_name'] == 'air_temperature'
    assert t2m['chunk_grid']['configuration']['chunk_shape'] == [120, 16, 16]    # 1 MiB rule, time capped at 120
    packed = json.loads((out / '0' / 'packed' / 'zarr.json').read_text())['attributes']
    assert packed['valid_range'] == [pytest.approx(190.0), pytest.approx(370.0)]    # packed units -> kelvin
    mapping = json.loads((out / '0' / 'spatial_ref' / 'zarr.json').read_text())['attributes']
    assert mapping['grid_mapping_name'] == 'latitude_longitude' and 'crs_wkt' in mapping
    lat = json.loads((out / '0' / 'lat' / 'zarr.json').read_text())['attributes']
    assert lat['axis'] == 'Y' and lat['standard_name'] == 'latitude'
    time = json.loads((out / '0' / 'time' / 'zarr.json').read_text())['attributes']
    assert time['calendar'] and time['units'].startswith('hours since') and time['axis'] == 'T'


def test_descending_latitude_and_0_360(tmp_path):
    lat, lon = np.arange(89.0, -90.0, -2.0), np.arange(0.0, 360.0, 2.0)
    source = write_netcdf(lonlat_dataset(lat, lon, [0.0, 6.0, 12.0], flags=False), tmp_path / 'in.nc')
    out = tmp_path / 'desc.zarr'
    assert main(['convert', str(source), str(out), '--chunks', SMALL, '-q']) == 0
    opened = get_dataset(str(out))
    assert opened.model.y_axis.descending
    for lon_asked, lat_asked in ((-10.0, 45.0), (350.0, -33.0), (180.0, 1.0)):
        values, _ = values_of(position(opened, lon_asked, lat_asked), 't2m')
        np.testing.assert_allclose(values.ravel(), formula(lon_asked, lat_asked, np.array([0.0, 6.0, 12.0])),
                                   atol=1e-4)
    level1 = opened.levels[1]
    assert level1.ds['lat'].values[0] == 88.0 and level1.ds['lon'].values[0] == 1.0
    np.testing.assert_allclose(level1.ds['t2m'].values[2], block_mean(gridded(lon, lat, 12.0), 2), atol=1e-4,
                               equal_nan=True)


def test_projected_grid_with_cf_grid_mapping(tmp_path):
    source = tmp_path / 'utm.nc'
    utm_dataset().to_netcdf(source)
    out = tmp_path / 'utm.zarr'
    assert main(['convert', str(source), str(out), '--chunks', 'x=16,y=16', '-q']) == 0
    opened = get_dataset(str(out))
    assert opened.model.projected and opened.model.crs.to_epsg() == 32632
    root = json.loads((out / 'zarr.json').read_text())['attributes']
    assert root['proj:code'] == 'EPSG:32632'
    level0 = json.loads((out / '0' / 'zarr.json').read_text())['attributes']
    assert level0['spatial:transform'] == [2000.0, 0.0, 300000.0, 0.0, -2000.0, 5200000.0]
    mapping = json.loads((out / '0' / 'crs' / 'zarr.json').read_text())['attributes']
    assert mapping['grid_mapping_name'] == 'transverse_mercator' and 'crs_wkt' in mapping
    assert mapping['GeoTransform'] == '300000.0 2000.0 0.0 5200000.0 0.0 -2000.0'
    x, y = 300000.0 + 2000.0 * 20.5, 5200000.0 - 2000.0 * 30.5
    lon, lat = TO_LONLAT.transform(x, y)
    values, _ = values_of(position(opened, lon, lat), 'b04')
    assert values.ravel()[0] == pytest.approx(formula(lon, lat), abs=1e-4)
    level1 = opened.levels[1]
    np.testing.assert_allclose(level1.ds['x'].values[:2], [302000.0, 306000.0])
    X, Y = np.meshgrid(utm_dataset()['x'].values, utm_dataset()['y'].values)
    expected = block_mean(formula(*TO_LONLAT.transform(X, Y)).astype('float32').astype(float), 2)
    np.testing.assert_allclose(level1.ds['b04'].values, expected, atol=1e-4)


def test_several_files_along_time_then_append(tmp_path):
    lat, lon = np.arange(-59.0, 60.0, 2.0), np.arange(-179.0, 180.0, 2.0)
    files = [write_netcdf(lonlat_dataset(lat, lon, [6.0 * (2 * k), 6.0 * (2 * k + 1)], flags=False),
                          tmp_path / f'part{k}.nc') for k in range(3)]
    out = tmp_path / 'series.zarr'
    # given out of order: joined in time order
    assert main(['convert', str(files[2]), str(files[0]), str(files[1]), str(out), '--chunks', SMALL, '-q']) == 0
    opened = get_dataset(str(out))
    hours = np.arange(6) * 6.0
    np.testing.assert_array_equal(opened.ds['time'].values, START + (hours * 3600e9).astype('timedelta64[ns]'))
    values, _ = values_of(position(opened, 33, -21), 't2m')
    np.testing.assert_allclose(values.ravel(), formula(33, -21, hours), atol=1e-4)
    more = [write_netcdf(lonlat_dataset(lat, lon, [36.0 + 6.0 * k], flags=False), tmp_path / f'more{k}.nc')
            for k in range(2)]
    assert main(['convert', '--append', *map(str, more), str(out), '-q']) == 0
    opened = get_dataset(str(out))
    hours = np.arange(8) * 6.0
    assert opened.ds.sizes['time'] == 8
    values, _ = values_of(position(opened, 33, -21), 't2m')
    np.testing.assert_allclose(values.ravel(), formula(33, -21, hours), atol=1e-4)
    X, Y = np.meshgrid(lon, lat)
    for level in opened.levels[1:]:
        factor = 2 ** int(level.name)
        assert level.ds.sizes['time'] == 8
        got = level.ds['t2m'].values[7]
        np.testing.assert_allclose(got, block_mean(gridded(lon, lat, 42.0), factor), atol=1e-4, equal_nan=True)
        assert np.isfinite(got).sum() > 0.5 * got.size
    attrs = json.loads((out / 'zarr.json').read_text())['attributes']
    assert [c['action'] for c in attrs['kazarr:conversions']] == ['convert', 'append']
    assert attrs['history'].splitlines()[0].split(': ', 1)[1].startswith('kazarr-provider')
    assert 'append' in attrs['history'].splitlines()[0]
    assert root_shape(out, '0/t2m') == [8, 60, 180] and root_shape(out, '3/t2m') == [8, 7, 22]


def root_shape(out: Path, path: str):
    return json.loads((out / 'zarr.json').read_text())['consolidated_metadata']['metadata'][path]['shape']


@pytest.fixture()
def small_store(tmp_path):
    lat, lon = np.arange(-59.0, 60.0, 2.0), np.arange(-179.0, 180.0, 2.0)
    source = write_netcdf(lonlat_dataset(lat, lon, [0.0, 6.0], flags=False), tmp_path / 'a.nc')
    out = tmp_path / 'store.zarr'
    assert main(['convert', str(source), str(out), '--chunks', SMALL, '-q']) == 0
    return out, lat, lon


def test_append_refuses_what_differs(small_store, tmp_path, capsys):
    out, lat, lon = small_store
    before = (out / 'zarr.json').read_text()
    cases = {
        'grid': (lonlat_dataset(lat[:-1], lon, [12.0], flags=False), 'the grid differs: lat has 60 values'),
        'variables': (lonlat_dataset(lat, lon, [12.0], flags=True), 'the variables differ: landmask only in'),
        'calendar': (lonlat_dataset(lat, lon, [12.0], flags=False, calendar='noleap'),
                     "the calendar differs: 'proleptic_gregorian' in store.zarr, 'noleap' in calendar.nc"),
        'overlap': (lonlat_dataset(lat, lon, [6.0], flags=False), 'is not after the last one'),
    }
    for name, (ds, message) in cases.items():
        path = write_netcdf(ds, tmp_path / f'{name}.nc', calendar='noleap' if name == 'calendar' else None)
        capsys.readouterr()
        assert main(['convert', '--append', str(path), str(out), '-q']) == 2, name
        err = capsys.readouterr().err
        assert message in err, (name, err)
        assert 'Traceback' not in err
    assert (out / 'zarr.json').read_text() == before


def test_errors_exit_2_without_traceback(tmp_path, capsys, small_store):
    out, lat, lon = small_store
    garbage = tmp_path / 'garbage.nc'
    garbage.write_bytes(b'this is not a NetCDF file at all')
    good = write_netcdf(lonlat_dataset(lat, lon, [0.0], flags=False), tmp_path / 'good.nc')
    blocker = tmp_path / 'a-file'
    blocker.write_text('x')
    cases = [
        ([str(garbage), str(tmp_path / 'x.zarr')], 'garbage.nc: neither NetCDF nor GRIB'),
        ([str(tmp_path / 'missing.nc'), str(tmp_path / 'x.zarr')], 'missing.nc: no such file'),
        ([str(good), str(tmp_path / 'x.zarr'), '--variables', 't2m,nope'], "good.nc: no variable 'nope'"),
        ([str(good), str(blocker / 'x.zarr')], 'cannot write'),
        ([str(good), str(out)], 'exists: --overwrite replaces it'),
        ([str(good), str(tmp_path / 'x.zarr'), '--chunks', 'lat=0'], '--chunks: expected dim=size'),
        ([str(good), str(tmp_path / 'x.zarr'), '--chunks', 'depth=4'], '--chunks: depth not a dimension'),
        ([str(good), str(tmp_path / 'x.zarr'), '--shard', '--zarr-format', '2'], '--shard needs Zarr v3'),
    ]
    for args, message in cases:
        capsys.readouterr()
        assert main(['convert', *args, '-q']) == 2, args
        err = capsys.readouterr().err
        assert message in err and 'Traceback' not in err, (args, err)
    assert not (tmp_path / 'x.zarr').exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.')]


def test_failure_midway_leaves_nothing(tmp_path, monkeypatch, small_store):
    from kazarr_provider.convert import write
    _, lat, lon = small_store
    source = write_netcdf(lonlat_dataset(lat, lon, [0.0, 6.0], flags=False), tmp_path / 'in.nc')
    calls = []

    seen = []

    def failing(*args, **kwargs):
        calls.append(1)
        seen.append(sorted(discover(tmp_path)))          # what a server's catalogue walk finds meanwhile
        if len(calls) == 3:
            raise OSError(28, 'No space left on device')
        return real(*args, **kwargs)
    real = write.write_block
    monkeypatch.setattr(write, 'write_block', failing)
    monkeypatch.setattr(write, 'BLOCK_BYTES', 1)         # bands of 16 rows: 4 blocks
    with pytest.raises(Exception) as caught:
        convert(Options([str(source)], str(tmp_path / 'half.zarr'), chunks='lat=16,lon=16', progress=False))
    assert 'No space left on device' in str(caught.value) and len(calls) == 3
    assert not (tmp_path / 'half.zarr').exists()
    assert seen == [['store']] * 3                     # the half-written store is never discovered
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.')]


def test_pack_shard_and_zarr_v2(tmp_path):
    lat, lon = np.arange(-59.0, 60.0, 2.0), np.arange(-179.0, 180.0, 2.0)
    source = write_netcdf(lonlat_dataset(lat, lon, [0.0, 6.0], flags=True), tmp_path / 'in.nc', fmt='NETCDF3_64BIT',
                          engine='scipy')
    variants = (('packed', ['--pack-variables', 't2m']), ('sharded', ['--shard']), ('v2', ['--zarr-format', '2']))
    for name, extra in variants:
        out = tmp_path / f'{name}.zarr'
        assert main(['convert', str(source), str(out), '--chunks', SMALL, '-q', *extra]) == 0, name
        opened = get_dataset(str(out))
        values, _ = values_of(position(opened, -11, 45), 't2m')
        tolerance = 0.01 if name == 'packed' else 1e-4
        np.testing.assert_allclose(values.ravel(), formula(-11, 45, np.array([0.0, 6.0])), atol=tolerance)
        assert np.isnan(values_of(position(opened, 105, 15), 't2m')[0]).all()
        level2 = opened.levels[2].ds['t2m'].values
        assert np.isfinite(level2).sum() > 0.9 * level2.size
    meta = json.loads((tmp_path / 'packed.zarr' / '0' / 't2m' / 'zarr.json').read_text())
    assert meta['data_type'] == 'int16' and meta['fill_value'] == -32768
    assert meta['attributes']['_FillValue'] == -32768 and 'scale_factor' in meta['attributes']
    meta = json.loads((tmp_path / 'sharded.zarr' / '0' / 't2m' / 'zarr.json').read_text())
    assert meta['codecs'][0]['name'] == 'sharding_indexed'
    assert meta['chunk_grid']['configuration']['chunk_shape'] == [120, 64, 64]     # 4 x 4 chunks of 16
    assert (tmp_path / 'v2.zarr' / '.zmetadata').exists() and (tmp_path / 'v2.zarr' / '0' / 't2m' / '.zarray').exists()


def test_grib2_from_eccodes_samples(tmp_path):
    try:
        import eccodes
        eccodes.codes_get_api_version()
    except Exception as error:  # pragma: no cover - depends on the machine
        pytest.skip(f'ecCodes cannot be loaded here ({type(error).__name__}: {error}); GRIB2 not tested')
    first = write_grib(tmp_path / 'run1.grib2', hours=(0, 6, 12))
    out = tmp_path / 'grib.zarr'
    assert main(['convert', str(first), str(out), '--chunks', 'latitude=8,longitude=8', '-q']) == 0
    opened = get_dataset(str(out))
    assert opened.model.t == 'time' and list(opened.model.variables) == ['t']
    hours = np.array([0.0, 6.0, 12.0])
    np.testing.assert_array_equal(opened.ds['time'].values, START + (hours * 3600e9).astype('timedelta64[ns]'))
    values, _ = values_of(position(opened, 7, 52), 't')
    np.testing.assert_allclose(values.ravel(), formula(7, 52, hours), atol=2e-3)       # 24-bit GRIB packing
    assert opened.levels[1].ds['t'].shape == (3, 10, 15)
    attrs = json.loads((out / '0' / 't' / 'zarr.json').read_text())['attributes']
    assert attrs['units'] == 'K' and attrs['standard_name'] == 'air_temperature' and attrs['GRIB_paramId'] == 130
    # the next run's steps appended (valid times 18 h and 24 h)
    second = write_grib(tmp_path / 'run2.grib2', hours=(18, 24))
    assert main(['convert', '--append', str(second), str(out), '-q']) == 0
    opened = get_dataset(str(out))
    hours = np.array([0.0, 6.0, 12.0, 18.0, 24.0])
    values, _ = values_of(position(opened, 7, 52), 't')
    np.testing.assert_allclose(values.ravel(), formula(7, 52, hours), atol=2e-3)


def test_coverages_answer_from_a_coarse_level(regular):
    """OGC API Coverages scales from the pyramid: 45 x 15 cells of 8 degrees are level 2's cells, unchanged."""
    import rasterio
    from kazarr_provider.api.coverages.adapter import answer_request
    out, _, _ = regular
    opened = get_dataset(str(out))
    _, body, headers = answer_request(opened, {'bbox': '-180,-60,180,60', 'width': '45', 'height': '15',
                                               'f': 'GeoTIFF', 'properties': 't2m'}, {}, 10**6)
    assert 'level=2' in headers['Kazarr-Level']
    with rasterio.MemoryFile(body) as memory, memory.open() as tiff:
        band = tiff.read(1, masked=True).filled(np.nan)
        assert tiff.transform.a == pytest.approx(8.0) and tiff.transform.e == pytest.approx(-8.0)
    level2 = opened.levels[2].ds['t2m'].values[-1]                  # the latest step, ascending latitude
    np.testing.assert_allclose(band, level2[::-1], atol=1e-4, equal_nan=True)
