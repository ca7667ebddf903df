"""The catalogue snapshot: built whole, never changed, holding the documents requests serve."""
from __future__ import annotations

import dataclasses

import numpy as np
import orjson
import pandas as pd
import pytest
import xarray as xr

from kazarr_provider import demo
from kazarr_provider.api.collections import MAX_LISTED_TIMES, temporal_extent
from kazarr_provider.core.model import build_model
from kazarr_provider.server.snapshot import AppState
from kazarr_provider.settings import Settings


def _settings(tmp_path, datasets) -> Settings:
    return Settings(datasets_path=str(datasets), bucket=None, host='127.0.0.1', port=5999,
                    public_url='http://127.0.0.1:5999', max_values=1000, refresh_seconds=3600,
                    config_path=str(tmp_path / 'absent.yml'), state_dir=str(tmp_path / 'state'))


@pytest.fixture(scope='module')
def state(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('snapshot')
    demo.make_sst(str(tmp / 'data' / 'sst_med.zarr'))
    return AppState(_settings(tmp, tmp / 'data'))


def test_snapshot_is_frozen_and_holds_the_documents(state):
    snapshot = state.current
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.config = {}
    assert list(snapshot.ours) == ['sst_med']
    document = orjson.loads(snapshot.collection_json('sst_med'))
    assert document['id'] == 'sst_med' and 'data_queries' in document
    listing = orjson.loads(snapshot.collection_json(None))
    assert [c['id'] for c in listing['collections']] == ['sst_med']
    assert snapshot.max_values('sst_med') == 1000
    assert '/collections/sst_med/position' in snapshot.openapi['paths']
    assert 'http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/core' in orjson.loads(snapshot.conformance_json)[
        'conformsTo']


def test_default_configuration_gives_the_about_link_a_target(state):
    # no configuration file: the packaged defaults, whose identification url is empty
    url = state.current.config['metadata']['identification']['url']
    assert url == 'http://127.0.0.1:5999/openapi?f=html'


def _model(times) -> object:
    ds = xr.Dataset({'v': (('time', 'lat', 'lon'), np.zeros((len(times), 2, 2), 'float32'))},
                    coords={'time': times, 'lat': ('lat', [40.0, 41.0], {'units': 'degrees_north'}),
                            'lon': ('lon', [10.0, 11.0], {'units': 'degrees_east'})})
    return build_model(ds)


def test_long_regular_time_axis_is_a_recurrence_not_a_list():
    steps = MAX_LISTED_TIMES * 50
    extent = temporal_extent(_model(pd.date_range('1940-01-01', periods=steps, freq='h')))
    assert extent['interval'] == [['1940-01-01T00:00:00Z', (pd.Timestamp('1940-01-01') + pd.Timedelta(
        hours=steps - 1)).strftime('%Y-%m-%dT%H:%M:%SZ')]]
    assert extent['values'] == [f'R{steps}/1940-01-01T00:00:00Z/PT3600S']
    assert extent['kazarr:steps'] == steps


def test_long_irregular_time_axis_keeps_interval_and_count():
    times = pd.DatetimeIndex(np.cumsum(np.r_[0, np.arange(1, MAX_LISTED_TIMES + 5)]) * 10**9).astype(
        'datetime64[ns]')
    extent = temporal_extent(_model(times))
    assert 'values' not in extent and extent['kazarr:steps'] == len(times)


def test_short_time_axis_lists_every_step():
    times = pd.date_range('2024-01-01', periods=3, freq='D')
    assert temporal_extent(_model(times))['values'] == ['2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z',
                                                        '2024-01-03T00:00:00Z']
