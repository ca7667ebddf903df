"""OGC API – Coverages: /collections/{id}/coverage, its domain set, range type and schema, as GDAL reads them.

Every pixel is checked against the demo formula at the source cell holding the pixel's centre.
"""
from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
import pytest
import rasterio
import xarray as xr
from pyproj import Transformer

from helpers import check, get
from kazarr_provider import demo

SST = '/collections/sst_med'
ERA5 = '/collections/era5.pressure_levels'
UTM = '/collections/projected.utm32'
COVERAGE_REL = 'http://www.opengis.net/def/rel/ogc/1.0/coverage'
SST_LON = np.round(np.arange(-6.0, 36.0, 0.1) + 0.05, 6)
SST_LAT = np.round(np.arange(30.0, 46.0, 0.1) + 0.05, 6)
TO_UTM = Transformer.from_crs('OGC:CRS84', 'EPSG:32632', always_xy=True)


def nearest(centres: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The centre of the cell holding each value (centres regular and ascending)."""
    step = centres[1] - centres[0]
    return centres[np.clip(np.floor((q - (centres[0] - step / 2)) / step).astype(int), 0, centres.size - 1)]


def tiff(response):
    assert response.status_code == 200, response.text
    assert response.headers['Content-Type'] == 'image/tiff; application=geotiff'
    return rasterio.open(io.BytesIO(response.content))


def pixel_centres(dataset):
    cols, rows = np.meshgrid(np.arange(dataset.width), np.arange(dataset.height))
    x, y = rasterio.transform.xy(dataset.transform, rows.ravel(), cols.ravel(), offset='center')
    return np.reshape(x, rows.shape), np.reshape(y, rows.shape)


def expected_sst(lon, lat, day):
    lon_c, lat_c = nearest(SST_LON, lon), nearest(SST_LAT, lat)
    values = demo.sst(lon_c, lat_c, day)
    return np.where(demo.sst_is_land(lon_c, lat_c), np.nan, values)


def test_collection_document_offers_the_coverage_as_gdal_needs(http):
    doc = http.get(http.base + SST, params={'f': 'json'}, timeout=30).json()
    coverage = [link for link in doc['links'] if link['rel'] == COVERAGE_REL]
    assert coverage[0]['type'] == 'image/tiff; application=geotiff'
    rels = {link['rel'] for link in doc['links']}
    assert {'http://www.opengis.net/def/rel/ogc/1.0/coverage-domainset',
            'http://www.opengis.net/def/rel/ogc/1.0/coverage-rangetype'} <= rels
    assert not [link for link in doc['links'] if link['rel'] == 'data' and link.get('type') == 'application/json']
    grid = doc['extent']['spatial']['grid']
    assert grid[0] == {'cellsCount': 420, 'firstCoordinate': pytest.approx(-5.95), 'resolution': pytest.approx(0.1)}
    assert len(doc['extent']['spatial']['bbox']) == 1
    utm = http.get(http.base + UTM, params={'f': 'json'}, timeout=30).json()
    link = next(link for link in utm['links'] if link['rel'] == COVERAGE_REL)
    assert 'crs=http://www.opengis.net/def/crs/OGC/1.3/CRS84' in link['href']
    assert utm['extent']['spatial']['storageCrsBbox'] == [[300000.0, 5000000.0, 420000.0, 5100000.0]]
    mesh = http.get(http.base + '/collections/projected.mesh', params={'f': 'json'}, timeout=30).json()
    assert not [link for link in mesh['links'] if link['rel'] == COVERAGE_REL]


def test_domainset_rangetype_and_schema(http):
    domain = get(http, f'{SST}/coverage/domainset').json()
    lon, lat = domain['generalGrid']['axis'][:2]
    assert (lon['lowerBound'], lon['upperBound'], lon['resolution']) == pytest.approx((-6.0, 36.0, 0.1))
    assert (lat['lowerBound'], lat['upperBound'], lat['resolution']) == pytest.approx((30.0, 46.0, -0.1))
    fields = get(http, f'{ERA5}/coverage/rangetype').json()['field']
    assert sorted(f['name'] for f in fields) == ['quality', 't', 'u', 'z_sfc']
    assert all(f['definition'] == 'ogcType:float32' for f in fields)
    schema = get(http, f'{ERA5}/schema')
    assert schema.headers['Content-Type'] == 'application/schema+json'
    t = schema.json()['properties']['t']
    assert t['x-ogc-unit'] == 'K' and t['type'] == 'number'
    assert [f['name'] for f in fields] == sorted(schema.json()['properties'], key=lambda n: schema.json()['properties'][n]['x-ogc-propertySeq'])
    assert t['x-ogc-definition'].endswith('/air_temperature/')


def test_geotiff_subset_and_scale_size_equal_the_formula(http):
    with tiff(get(http, f'{SST}/coverage', subset='Lat(35:40),Lon(10:15)', scaleSize='Lon(73),Lat(41)')) as ds:
        assert (ds.width, ds.height, ds.count) == (73, 41, 1)
        assert ds.bounds == pytest.approx((10.0, 35.0, 15.0, 40.0))
        lon, lat = pixel_centres(ds)
        np.testing.assert_allclose(ds.read(1), expected_sst(lon, lat, 2.0), atol=1.5e-3, equal_nan=True)


def test_latest_step_and_first_level_are_the_documented_default_slices(http):
    response = get(http, f'{ERA5}/coverage', subset='Lon(170:190),Lat(-20:20)', properties='t')
    assert response.headers['Content-Datetime'] == '2024-01-01T18:00:00Z'
    assert 'level=1000' in response.headers['Kazarr-Level']
    with tiff(response) as ds:
        assert ds.count == 1 and ds.bounds == pytest.approx((170.0, -20.0, 190.0, 20.0))
        lon, lat = pixel_centres(ds)
        lon_c = nearest(np.arange(-1, 145) * 2.5, lon)
        lat_c = nearest(np.linspace(-92.5, 92.5, 75), lat)
        np.testing.assert_allclose(ds.read(1), demo.era5_temperature(lon_c, lat_c, 1000.0, 18.0), rtol=1e-5)


def test_projected_native_and_lonlat_outputs(http):
    response = get(http, f'{UTM}/coverage', subset='E(310000:330000),N(5020000:5040000)', subset_crs=None)
    with tiff(response) as ds:
        assert (ds.width, ds.height) == (20, 20) and ds.crs.to_epsg() == 32632
        x, y = pixel_centres(ds)
        lon, lat = TO_UTM.transform(x, y, direction='INVERSE')
        np.testing.assert_allclose(ds.read(1), demo.lonlat_field(lon, lat) + 1, rtol=1e-5)
    response = get(http, f'{UTM}/coverage', subset='Lon(7.5:8),Lat(45.2:45.6)', crs='CRS84',
                   scaleSize='Lon(25),Lat(20)')
    with tiff(response) as ds:
        assert (ds.width, ds.height) == (25, 20) and ds.crs.to_epsg() == 4326
        lon, lat = pixel_centres(ds)
        x, y = TO_UTM.transform(lon, lat)
        cx = 300000.0 + 1000.0 * (np.floor((x - 300000.0) / 1000.0) + 0.5)
        cy = 5100000.0 - 1000.0 * (np.floor((5100000.0 - y) / 1000.0) + 0.5)
        centre_lon, centre_lat = TO_UTM.transform(cx, cy, direction='INVERSE')
        inside = (x >= 300000) & (x < 420000) & (y > 5000000) & (y <= 5100000)
        assert inside.any() and (~inside).any()
        expected = np.where(inside, demo.lonlat_field(centre_lon, centre_lat) + 1, np.nan)
        np.testing.assert_allclose(ds.read(1), expected, rtol=1e-5, equal_nan=True)


def test_netcdf_and_coveragejson_keep_every_step(http, tmp_path):
    params = {'subset': 'Lat(36:37),Lon(12:13)', 'f': 'NetCDF'}
    response = http.get(f'{http.base}{SST}/coverage', params=params, timeout=60)
    assert response.status_code == 200 and response.headers['Content-Type'] == 'application/x-netcdf'
    (tmp_path / 'c.nc').write_bytes(response.content)
    with xr.open_dataset(tmp_path / 'c.nc', engine='scipy') as ds:
        variable = ds['analysed_sst']
        assert variable.shape == (3, 10, 10)
    doc = check(http.get(f'{http.base}{SST}/coverage', params={**params, 'f': 'CoverageJSON'}, timeout=60).json())
    assert doc['domain']['domainType'] == 'Grid' and len(doc['domain']['axes']['t']['values']) == 3
    values = np.array([np.nan if v is None else v for v in doc['ranges']['analysed_sst']['values']]).reshape(3, 10, 10)
    lon = np.array(doc['domain']['axes']['x']['values'])
    lat = np.array(doc['domain']['axes']['y']['values'])
    for day in range(3):
        np.testing.assert_allclose(values[day], expected_sst(lon[None, :], lat[:, None], float(day)), atol=1.5e-3)


@pytest.mark.parametrize('params, parameter', [
    ({'subset': 'Depth(0:10)'}, 'subset'),
    ({'subset': 'Lat(40:35)'}, 'subset'),
    ({'subset': 'Lat(35:40)', 'bbox': '10,35,15,40'}, 'bbox'),
    ({'scaleSize': 'Lon(0)'}, 'scaleSize'),
    ({'properties': 'nope'}, 'properties'),
    ({'crs': 'EPSG:99999'}, 'crs'),
    ({'f': 'xml'}, 'f'),
    ({'subset': 'Lat(36)'}, 'subset'),
])
def test_bad_coverage_requests_are_400_naming_the_parameter(http, params, parameter):
    response = http.get(f'{http.base}{SST}/coverage', params=params, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()['parameter'] == parameter and parameter in response.json()['description']


def test_limits_outside_and_negotiation(http):
    strict = http.get(f'{http.base}{ERA5}/coverage', params={'scaleSize': 'Lon(4000),Lat(2000)'}, timeout=30)
    assert strict.status_code == 413 and 'limit' in strict.json()['description']
    lenient = http.get(f'{http.base}{ERA5}/coverage', params={'resolution': 'Lon(0.1),Lat(0.1)'}, timeout=60)
    assert lenient.status_code in (200, 413)
    outside = http.get(f'{http.base}{SST}/coverage', params={'subset': 'Lon(100:110),Lat(0:10)'}, timeout=30)
    assert outside.status_code == 204
    refused = http.get(f'{http.base}{SST}/coverage', headers={'Accept': 'image/png'}, timeout=30)
    assert refused.status_code == 406
    nospace = http.get(f'{http.base}{SST}/coverage', params={'subset': 'Lat(35:36),Lon(10:11)'},
                       headers={'Accept': 'image/tiff;application=geotiff'}, timeout=30)
    assert nospace.headers['Content-Type'] == 'image/tiff; application=geotiff'
    mesh = http.get(f'{http.base}/collections/projected.mesh/coverage', timeout=30)
    assert mesh.status_code == 404


GDAL = shutil.which('gdalinfo') and shutil.which('gdal_translate')
needs_gdal = pytest.mark.skipif(not GDAL, reason="GDAL's command-line tools are not installed: "
                                "apt-get install gdal-bin (.ci/run does it)")


@needs_gdal
@pytest.mark.parametrize('collection, size, bands', [
    ('sst_med', (420, 160), 1), ('era5.pressure_levels', (144, 73), 4), ('ensemble', None, 1),
    ('projected.utm32', None, 1), ('projected.polar', None, 1),
])
def test_gdalinfo_opens_every_gridded_collection(http, collection, size, bands, tmp_path):
    # GDAL caches what it downloads in ./gdalwmscache: keep it out of the work tree
    out = subprocess.run(['gdalinfo', '-json', f'OGCAPI:{http.base}/collections/{collection}'],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    import json
    info = json.loads(out.stdout)
    if size:
        assert tuple(info['size']) == size
    assert len(info['bands']) == bands


@needs_gdal
def test_gdal_translate_pixels_equal_the_formula(http, tmp_path):
    target = tmp_path / 'sst.tif'
    out = subprocess.run(['gdal_translate', '-q', '-outsize', '50', '40', '-projwin', '10', '40', '15', '36',
                          f'OGCAPI:{http.base}/collections/sst_med', str(target)],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    with rasterio.open(target) as ds:
        assert (ds.width, ds.height) == (50, 40)
        lon, lat = pixel_centres(ds)
        np.testing.assert_allclose(ds.read(1), expected_sst(lon, lat, 2.0), atol=1.5e-3, equal_nan=True)


def test_reprojection_to_web_mercator_is_geotiff_only(http):
    box = {'subset': 'Lat(35:40),Lon(10:15)', 'crs': 'EPSG:3857', 'width': '40', 'height': '40'}
    with tiff(http.get(f'{http.base}{SST}/coverage', params=box, timeout=60)) as ds:
        assert ds.crs.to_epsg() == 3857 and (ds.width, ds.height) == (40, 40)
        x, y = pixel_centres(ds)
        lon, lat = Transformer.from_crs('EPSG:3857', 'OGC:CRS84', always_xy=True).transform(x, y)
        np.testing.assert_allclose(ds.read(1), expected_sst(lon, lat, 2.0), atol=1.5e-3, equal_nan=True)
    refused = http.get(f'{http.base}{SST}/coverage', params={**box, 'f': 'NetCDF'}, timeout=30)
    assert refused.status_code == 400 and refused.json()['parameter'] == 'crs'


def test_owslib_coverages_client(server):
    from owslib.ogcapi.coverages import Coverages
    client = Coverages(server.url)
    assert 'sst_med' in [c['id'] for c in client.collections()['collections']]
    answer = client.coverage('sst_med', subset={'Lat': (35, 40), 'Lon': (10, 15)}, properties=['analysed_sst'],
                             scale_size={'Lon': 50, 'Lat': 50}, datetime='2024-07-02T00:00:00Z')
    with rasterio.open(io.BytesIO(answer.read())) as ds:
        assert (ds.width, ds.height) == (50, 50)
        lon, lat = pixel_centres(ds)
        np.testing.assert_allclose(ds.read(1), expected_sst(lon, lat, 1.0), atol=1.5e-3, equal_nan=True)


def test_time_levels_and_other_dimensions_are_described_like_their_subset_axes(http):
    era5 = http.get(http.base + ERA5, params={'f': 'json'}, timeout=30).json()['extent']
    assert era5['temporal']['grid'] == {'cellsCount': 4, 'firstCoordinate': '2024-01-01T00:00:00Z',
                                        'resolution': 'PT21600S'}
    assert era5['temporal']['interval'] == [['2024-01-01T00:00:00Z', '2024-01-01T18:00:00Z']]    # still EDR
    assert era5['level']['grid']['coordinates'] == [1000.0, 850.0, 700.0, 500.0, 300.0]
    assert era5['level']['unit'] == 'hPa'
    ensemble = http.get(http.base + '/collections/ensemble', params={'f': 'json'}, timeout=30).json()['extent']
    assert ensemble['number']['grid']['cellsCount'] == 3
    # the names work as subset axes
    response = http.get(f'{http.base}{ERA5}/coverage', timeout=60,
                        params={'subset': 'level(510),Lat(40:50),Lon(0:10)', 'properties': 't'})
    assert response.status_code == 200 and 'level=500' in response.headers['Kazarr-Level']


def test_a_geotiff_holds_one_slice_of_each_other_dimension(http):
    ens = '/collections/ensemble/coverage'
    several = http.get(f'{http.base}{ens}', params={'subset': 'number(0,1)'}, timeout=30)
    assert several.status_code == 400 and several.json()['parameter'] == 'subset'
    one = http.get(f'{http.base}{ens}', params={'subset': 'number(1)'}, timeout=30)
    assert one.status_code == 200
    netcdf = http.get(f'{http.base}{ens}', params={'subset': 'number(0,1)', 'f': 'NetCDF'}, timeout=30)
    assert netcdf.status_code == 200
    between = http.get(f'{http.base}{SST}/coverage', timeout=30,
                       params={'subset': 'Lat(35:36),Lon(10:11)', 'datetime': '2024-07-01T13:00:00Z'})
    assert between.headers['Content-Datetime'] == '2024-07-02T00:00:00Z'       # the step that answers
