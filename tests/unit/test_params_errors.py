"""Every case of the bad-request table against the parser and service in-process: a 400 naming the
parameter, with the parameter's name in the description (the HTTP tests send a sample of it)."""
from __future__ import annotations

import pytest

from bad_requests import BAD_REQUESTS
from kazarr_provider import demo
from kazarr_provider.api.service import run_query
from kazarr_provider.data.catalogue import get_dataset
from kazarr_provider.errors import InvalidParameter
from kazarr_provider.api.negotiation import negotiate_format

MAKERS = {'era5.pressure_levels': demo.make_era5, 'ensemble': demo.make_ensemble}


@pytest.fixture(scope='module')
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp('bad')
    out = {}
    for ident, maker in MAKERS.items():
        maker(str(root / f'{ident}.zarr'))
        out[ident] = get_dataset(str(root / f'{ident}.zarr'))
    return out


@pytest.mark.parametrize('path, params, parameter', BAD_REQUESTS)
def test_bad_parameter_is_refused_naming_it(datasets, path, params, parameter):
    _, _, ident, query_type = path.split('/')
    with pytest.raises(InvalidParameter) as caught:
        negotiate_format(params.get('f'), None)
        run_query(datasets[ident], query_type, params, 10**7)
    assert caught.value.parameter == parameter
    assert parameter in caught.value.description
