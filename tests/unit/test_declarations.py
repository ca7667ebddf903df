"""The parameter table, the parser and the OpenAPI document say the same thing (no server needed)."""
from __future__ import annotations

import re

import pytest

from helpers import Recording

from kazarr_provider import demo
from kazarr_provider.api.collections import data_queries
from kazarr_provider.api.declarations import DISTANCE_UNITS, LIMITS, PARAMS, QUERY_TYPES
from kazarr_provider.api.openapi import CollectionFacts, coverage_operations, edr_operations, openapi_document
from kazarr_provider.api.edr.parse import parse_query
from kazarr_provider.api.service import run_query
from kazarr_provider.data.catalogue import get_dataset
from kazarr_provider.errors import InvalidParameter, MissingParameter, TooLarge

VALID = {      # a value inside the era5 demo data for every parameter the documented examples cannot fit
    'datetime': '2024-01-01T06:00:00Z', 'z': '850', 'parameter-name': 't', 'height-units': 'hPa',
    'corridor-height': '100', 'interpolation-params': '', 'crs': 'CRS84',
}


@pytest.fixture(scope='module')
def era5(tmp_path_factory):
    path = tmp_path_factory.mktemp('decl') / 'era5.zarr'
    demo.make_era5(str(path))
    return get_dataset(str(path))


def _operation(query_type: str, opened) -> dict:
    model = opened.model
    facts = CollectionFacts({}, model.t is not None, model.z is not None, bool(opened.levels))
    return edr_operations('era5', QUERY_TYPES[query_type], facts)['get']


@pytest.mark.parametrize('query_type', list(QUERY_TYPES))
def test_documented_examples_parse_and_parser_reads_only_documented(era5, query_type):
    operation = _operation(query_type, era5)
    documented = {p['name']: p for p in operation['parameters']}
    params = Recording({name: VALID.get(name, p['schema'].get('example', ''))
                        for name, p in documented.items() if name != 'f'})
    if query_type == 'corridor':
        params['height-units'] = 'hPa'
    parse_query(query_type, params, era5.model)
    # every name the parser looked at is documented for this operation (aliases excepted), or is read only
    # to be refused with a 400 naming it: interpolation on cell queries, resolution-* where there is nothing
    # to decimate (no overview levels, or not a cube/area)
    refused = params.asked - set(documented) - {'parameter_names'}
    assert refused <= {'interpolation', 'interpolation-params', 'resolution-x', 'resolution-y',
                       'resolution-limit'}, refused
    for name in refused:
        value = {'interpolation': 'linear', 'interpolation-params': 'power:2'}.get(name, '10')
        with pytest.raises(InvalidParameter) as caught:
            run_query(era5, query_type, {**params, name: value}, 10**7)
        assert caught.value.parameter == name
    for name, p in documented.items():
        pattern = p['schema'].get('pattern')
        if pattern and params.get(name):
            assert re.search(pattern, params[name]), (name, params[name], pattern)


@pytest.mark.parametrize('query_type', list(QUERY_TYPES))
def test_required_parameters_are_required_by_the_parser(era5, query_type):
    operation = _operation(query_type, era5)
    required = [p['name'] for p in operation['parameters'] if p['required']]
    assert required == list(QUERY_TYPES[query_type].required)
    full = {p['name']: VALID.get(p['name'], p['schema'].get('example', ''))
            for p in operation['parameters'] if p['name'] in required}
    for name in required:
        with pytest.raises(MissingParameter) as caught:
            parse_query(query_type, {k: v for k, v in full.items() if k != name}, era5.model)
        assert caught.value.parameter == name


@pytest.mark.parametrize('unit', list(DISTANCE_UNITS))
def test_every_documented_distance_unit_is_accepted(era5, unit):
    enum = {p['name']: p['schema'].get('enum') for p in _operation('radius', era5)['parameters']}
    assert unit in enum['within-units']
    query = parse_query('radius', {'coords': 'POINT(10 45)', 'within': '1', 'within-units': unit}, era5.model)
    assert query.within_m == pytest.approx(DISTANCE_UNITS[unit])


def test_enums_match_the_parser(era5):
    for method in PARAMS['edr']['interpolation'].enum:
        parse_query('position', {'coords': 'POINT(10 45)', 'interpolation': method}, era5.model)
    with pytest.raises(InvalidParameter):
        parse_query('position', {'coords': 'POINT(10 45)', 'interpolation': 'quintic'}, era5.model)


def test_one_parameter_table_per_api():
    assert set(PARAMS) == {'edr', 'coverages'}
    for api, table in PARAMS.items():
        assert all(name == param.name for name, param in table.items()), api
    for name in ('bbox', 'datetime', 'crs'):        # one name, another meaning in each API
        assert PARAMS['edr'][name] != PARAMS['coverages'][name]
    assert [name for name, param in PARAMS['coverages'].items() if param.header] == ['Prefer']


def test_the_coverage_operation_documents_the_coverages_table():
    parameters = coverage_operations('c')['/collections/c/coverage']['get']['parameters']
    declared = [(name, 'header' if param.header else 'query') for name, param in PARAMS['coverages'].items()]
    assert [(p['name'], p['in']) for p in parameters] == declared + [('f', 'query')]


def test_data_queries_follow_the_declarations(era5):
    queries = data_queries('http://x/collections/era5', era5.model)
    assert list(queries) == list(QUERY_TYPES)
    assert queries['radius']['link']['variables']['within_units'] == list(DISTANCE_UNITS)
    assert queries['corridor']['link']['variables']['width_units'] == list(DISTANCE_UNITS)
    assert queries['cube']['link']['variables']['height_units'] == ['hPa']


def test_openapi_has_no_remote_reference_and_declares_errors(era5):
    document = openapi_document({'server': {'url': 'http://x', 'mimetype': 'application/json', 'encoding': 'utf-8',
                                            'language': 'en-US', 'limits': {}, 'map': {'url': '', 'attribution': ''}},
                                 'logging': {'level': 'ERROR'},
                                 'metadata': {'identification': {'title': 't', 'description': 'd', 'keywords': [],
                                                                  'terms_of_service': '', 'url': 'http://x'},
                                              'license': {'name': 'x', 'url': 'http://x'},
                                              'provider': {'name': 'x', 'url': 'http://x'},
                                              'contact': {'name': 'x'}},
                                 'resources': {}}, {'era5': era5})
    text = repr(document)
    assert "'$ref': 'http" not in text
    get = document['paths']['/collections/era5/cube']['get']
    for status in ('400', '404', '405', '406', '413', '503'):
        schema = get['responses'][status]['content']['application/json']['schema']
        assert schema == {'$ref': '#/components/schemas/kazarrException'}
    assert document['components']['schemas']['kazarrException']['required'] == ['code', 'description']


def test_work_limits_refuse_before_reading(era5):
    many = LIMITS['max-points'].value + 1
    points = ','.join(f'({i % 10} {40 + (i % 7)})' for i in range(many))
    for query_type, extra in (('position', {}), ('radius', {'within': '10', 'within-units': 'km'})):
        with pytest.raises(TooLarge) as caught:
            parse_query(query_type, {'coords': f'MULTIPOINT({points})', **extra}, era5.model)
        assert f'{LIMITS["max-points"].value:,}' in caught.value.description
    ring = LIMITS['max-vertices'].value + 1
    import numpy as np
    angles = np.linspace(0, 2 * np.pi, ring, endpoint=False)
    wkt = 'POLYGON((' + ','.join(f'{10 + np.cos(a):.6f} {45 + np.sin(a):.6f}' for a in angles)
    wkt += f',{10 + np.cos(angles[0]):.6f} {45 + np.sin(angles[0]):.6f}))'
    with pytest.raises(TooLarge) as caught:
        parse_query('area', {'coords': wkt}, era5.model)
    assert 'vertices' in caught.value.description
    with pytest.raises(TooLarge) as caught:
        parse_query('corridor', {'coords': 'LINESTRING(-170 0,0 0,170 0)', 'corridor-width': '10000',
                                 'width-units': 'km'}, era5.model)
    assert caught.value.parameter == 'corridor-width'
