"""convert to s3://bucket/prefix against moto: written under a hidden prefix then moved, appendable, served."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import BUCKET, Moto
from fields import formula, lonlat_dataset, write_netcdf
from kazarr_provider.api.service import coverage_document
from kazarr_provider.cli import main
from kazarr_provider.data.catalogue import get_dataset
from kazarr_provider.data.storage import Location, root_metadata

LAT, LON = np.arange(-59.0, 60.0, 2.0), np.arange(-179.0, 180.0, 2.0)


@pytest.fixture(scope='module')
def s3():
    server = Moto().start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('AWS_ENDPOINT_URL', server.url)
        yield server
    server.stop()


def keys(s3, prefix):
    client = s3.client()
    return [o['Key'] for page in client.get_paginator('list_objects_v2').paginate(Bucket=BUCKET, Prefix=prefix)
            for o in page.get('Contents', [])]


def opened(path):
    location = Location(path, BUCKET)
    return get_dataset(location, tuple(sorted(root_metadata(location).items())))


def series(opened_dataset, lon, lat):
    document = coverage_document(opened_dataset, 'position', {'coords': f'POINT({lon} {lat})'}, 10**6)
    return np.array(document['ranges']['t2m']['values'], 'float64')


def test_convert_append_and_validate_on_s3(s3, tmp_path):
    first = write_netcdf(lonlat_dataset(LAT, LON, [0.0, 6.0], flags=False), tmp_path / 'a.nc')
    second = write_netcdf(lonlat_dataset(LAT, LON, [12.0], flags=False), tmp_path / 'b.nc')
    output = f's3://{BUCKET}/conv/series.zarr'
    assert main(['convert', str(first), output, '--chunks', 'lat=16,lon=16', '-q']) == 0
    written = keys(s3, 'conv/')
    assert 'conv/series.zarr/zarr.json' in written and 'conv/series.zarr/4/t2m/zarr.json' in written
    assert not [k for k in written if '.tmp-' in k]
    np.testing.assert_allclose(series(opened('conv/series.zarr'), -11, 45), formula(-11, 45, np.array([0.0, 6.0])),
                               atol=1e-4)
    assert main(['convert', '--append', str(second), output, '-q']) == 0
    dataset = opened('conv/series.zarr')
    np.testing.assert_allclose(series(dataset, -11, 45), formula(-11, 45, np.array([0.0, 6.0, 12.0])), atol=1e-4)
    assert dataset.levels[3].ds.sizes['time'] == 3
    assert main(['validate', output]) == 0


def test_s3_failure_leaves_nothing_and_overwrite_replaces(s3, tmp_path, monkeypatch, capsys):
    from kazarr_provider.convert import write
    source = write_netcdf(lonlat_dataset(LAT, LON, [0.0], flags=True), tmp_path / 'a.nc')
    output = f's3://{BUCKET}/conv/other.zarr'
    real = write.write_block

    def failing(*args, **kwargs):
        real(*args, **kwargs)
        raise ConnectionError('connection reset')
    with monkeypatch.context() as patch:
        patch.setattr(write, 'write_block', failing)
        assert main(['convert', str(source), output, '-q']) == 2
    assert 'cannot write s3://kazarr-test/conv/other.zarr: storage did not answer' in capsys.readouterr().err
    assert keys(s3, 'conv/other.zarr') == [] and not [k for k in keys(s3, 'conv/') if '.other.zarr.tmp-' in k]
    assert main(['convert', str(source), output, '-q']) == 0
    assert any('/landmask/' in k for k in keys(s3, 'conv/other.zarr/'))
    capsys.readouterr()
    assert main(['convert', str(source), output, '-q', '--variables', 't2m']) == 2
    assert 'exists: --overwrite replaces it' in capsys.readouterr().err
    assert main(['convert', str(source), output, '-q', '--variables', 't2m', '--overwrite']) == 0
    left = keys(s3, 'conv/other.zarr/')
    assert not any('/landmask/' in k for k in left) and 'conv/other.zarr/zarr.json' in left
    assert not [k for k in keys(s3, 'conv/') if '.tmp-' in k]
    assert list(opened('conv/other.zarr').model.variables) == ['t2m']


def test_unwritable_bucket_exits_2(s3, tmp_path, capsys):
    source = write_netcdf(lonlat_dataset(LAT, LON, [0.0], flags=False), tmp_path / 'a.nc')
    capsys.readouterr()
    assert main(['convert', str(source), 's3://no-such-bucket-kazarr/x.zarr', '-q']) == 2
    err = capsys.readouterr().err
    assert 'cannot write s3://no-such-bucket-kazarr/x.zarr' in err and 'Traceback' not in err


def test_the_servers_check_costs_no_s3_request(s3, tmp_path, monkeypatch):
    """get_dataset sends the same requests with and without the validate findings logged."""
    from kazarr_provider.data import catalogue
    source = write_netcdf(lonlat_dataset(LAT, LON, [0.0], flags=False), tmp_path / 'a.nc')
    assert main(['convert', str(source), f's3://{BUCKET}/conv/counted.zarr', '-q']) == 0
    location = Location('conv/counted.zarr', BUCKET)
    signature = tuple(sorted(root_metadata(location).items()))
    counts = []
    for check in (lambda *args: None, catalogue.log_findings):
        monkeypatch.setattr(catalogue, 'log_findings', check)
        catalogue._OPEN.pop(location, None)
        s3.start_recording()
        catalogue.get_dataset(location, signature)
        counts.append(len(s3.recorded()))
    assert counts[0] == counts[1] and counts[0] > 0
