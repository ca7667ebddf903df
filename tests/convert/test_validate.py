"""validate: a converted store passes; broken copies fail with the finding named; the server logs the same."""
from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from fields import lonlat_dataset, write_netcdf
from kazarr_provider.cli import main
from kazarr_provider.data.catalogue import get_dataset


@pytest.fixture(scope='module')
def good(tmp_path_factory):
    root = tmp_path_factory.mktemp('validate')
    lat, lon = np.arange(-59.0, 60.0, 2.0), np.arange(-179.0, 180.0, 2.0)
    source = write_netcdf(lonlat_dataset(lat, lon, [0.0, 6.0]), root / 'in.nc')
    out = root / 'good.zarr'
    assert main(['convert', str(source), str(out), '--chunks', 'lat=16,lon=16', '-q']) == 0
    return out


def copy(good, tmp_path, name='broken.zarr'):
    target = tmp_path / name
    shutil.copytree(good, target)
    return target


def edit(path, change):
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def run(store, capsys):
    capsys.readouterr()
    status = main(['validate', str(store)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_good_store(good, capsys):
    status, out, _ = run(good, capsys)
    assert status == 0, out
    for convention in ('CF:', 'geo-proj:', 'spatial:', 'multiscales:', 'consolidated metadata:'):
        assert convention in out
    assert 'ok       5 level(s): 0, 1, 2, 3, 4' in out
    assert 'ok       root proj:code: WGS 84 (CRS84)' in out
    assert '0 error(s), 0 warning(s)' in out


def test_missing_fill_value_is_an_error_and_logged_by_the_server(good, tmp_path, capsys, caplog):
    store = copy(good, tmp_path)
    edit(store / '0' / 't2m' / 'zarr.json', lambda d: d['attributes'].pop('_FillValue'))
    edit(store / 'zarr.json', lambda d: d['consolidated_metadata']['metadata']['0/t2m']['attributes'].pop('_FillValue'))
    status, out, _ = run(store, capsys)
    assert status == 1
    assert 'error    0/t2m: float variable without _FillValue' in out
    with caplog.at_level(logging.WARNING, logger='kazarr_provider.convert.validate'):
        get_dataset(str(store))
    logged = [r.getMessage() for r in caplog.records if r.name == 'kazarr_provider.convert.validate']
    assert any('0/t2m: float variable without _FillValue' in m for m in logged), logged
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger='kazarr_provider.convert.validate'):
        get_dataset(str(store))                          # already open: not logged again
    assert not [r for r in caplog.records if r.name == 'kazarr_provider.convert.validate']


def test_transform_disagreeing_with_coordinates(good, tmp_path, capsys):
    store = copy(good, tmp_path)

    def shift(d):
        item = d['attributes']['multiscales']['layout'][1]
        item['spatial:transform'][2] += 1.0             # the layout lives in the root attributes only
    edit(store / 'zarr.json', shift)
    status, out, _ = run(store, capsys)
    assert status == 1
    assert 'error    1: multiscales layout spatial:transform disagrees with the coordinates' in out


def test_level_shape_not_matching_its_transform(good, tmp_path, capsys):
    store = copy(good, tmp_path)
    edit(store / 'zarr.json', lambda d: d['attributes']['multiscales']['layout'][2].update({'spatial:shape': [9, 9]}))
    status, out, _ = run(store, capsys)
    assert status == 1
    assert 'level 2: shape [9, 9] does not match its transform (scale [4.0, 4.0] of [60, 180]' in out
    assert '2: multiscales layout spatial:shape [9, 9] but the arrays are 15 x 45' in out


def test_consolidated_metadata_missing_or_stale(good, tmp_path, capsys):
    store = copy(good, tmp_path, 'plain.zarr')
    edit(store / 'zarr.json', lambda d: d.pop('consolidated_metadata'))
    status, out, _ = run(store, capsys)
    assert status == 0 and 'warning  none: every open reads each group and array metadata' in out
    store = copy(good, tmp_path, 'stale.zarr')
    edit(store / 'zarr.json', lambda d: d['consolidated_metadata']['metadata']['0/t2m'].update(shape=[1, 60, 180]))
    status, out, _ = run(store, capsys)
    assert status == 1 and 'stale: 0/t2m has shape [1, 60, 180] in it but [2, 60, 180] in its own metadata' in out


def test_proj_code_disagreeing_with_the_grid_mapping(good, tmp_path, capsys):
    store = copy(good, tmp_path)
    edit(store / 'zarr.json', lambda d: d['attributes'].update({'proj:code': 'EPSG:32632'}))
    status, out, _ = run(store, capsys)
    assert status == 1
    assert 'grid_mapping crs_wkt (WGS 84 (CRS84)) disagrees with proj:code (WGS 84 / UTM zone 32N)' in out


def test_unreadable_store_exits_2(tmp_path, capsys):
    (tmp_path / 'empty.zarr').mkdir()
    status, _, err = run(tmp_path / 'empty.zarr', capsys)
    assert status == 2 and 'not a readable Zarr group' in err
    status, _, err = run(tmp_path / 'nowhere.zarr', capsys)
    assert status == 2 and 'no such directory' in err
