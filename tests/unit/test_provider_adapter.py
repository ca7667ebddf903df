"""The pygeoapi provider class used directly, as pygeoapi's own EDR API calls it."""
from __future__ import annotations

import pytest
import shapely.wkt
from pygeoapi.provider.base import ProviderInvalidQueryError, ProviderNoDataError

from helpers import check
from kazarr_provider import demo
from kazarr_provider.edr import KazarrEDRProvider


@pytest.fixture(scope='module')
def provider(tmp_path_factory):
    path = tmp_path_factory.mktemp('adapter') / 'era5.zarr'
    demo.make_era5(str(path))
    return KazarrEDRProvider({'name': 'kazarr_provider.edr.KazarrEDRProvider', 'type': 'edr', 'data': str(path)})


def test_query_types_and_fields(provider):
    assert provider.get_query_types() == ['position', 'area', 'cube', 'radius', 'trajectory', 'corridor']
    assert provider.get_fields()['t'] == {'type': 'number', 'title': 'Temperature', 'x-ogc-unit': 'K'}


def test_position_through_pygeoapi_kwargs(provider):
    doc = provider.query(query_type='position', wkt=shapely.wkt.loads('POINT(10 45)'),
                         datetime_='2024-01-01T06:00:00Z', z='850', select_properties=['t'], format_='json')
    check(doc)
    assert doc['ranges']['t']['values'][0] == pytest.approx(demo.era5_temperature(10, 45, 850, 6), abs=1e-3)


def test_cube_through_pygeoapi_kwargs(provider):
    doc = provider.query(query_type='cube', bbox=[0, 0, 5, 5], datetime_='2024-01-01T00:00:00Z', z='1000',
                         select_properties=['t'])
    check(doc)
    assert doc['ranges']['t']['shape'] == [1, 1, 3, 3]


def test_errors_become_pygeoapi_exceptions(provider):
    with pytest.raises(ProviderInvalidQueryError):
        provider.query(query_type='position', wkt=shapely.wkt.loads('POINT(10 45)'), select_properties=['nope'])
    with pytest.raises(ProviderNoDataError):
        provider.query(query_type='position', wkt=shapely.wkt.loads('POINT(10 45)'),
                       datetime_='2030-01-01T00:00:00Z')
