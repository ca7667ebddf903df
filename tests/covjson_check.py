"""Validate CoverageJSON: the official schema plus what the schema cannot see."""
from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import jsonschema

SCHEMA = Path(__file__).resolve().parents[2] / 'shared' / 'schemas' / 'coveragejson' / 'coveragejson.json'
DOMAIN_AXES = {
    'Grid': ({'x', 'y'}, {'z', 't'}),
    'Point': ({'x', 'y'}, {'z', 't'}),
    'PointSeries': ({'x', 'y', 't'}, {'z'}),
    'VerticalProfile': ({'x', 'y', 'z'}, {'t'}),
    'MultiPoint': ({'composite'}, {'t'}),
    'MultiPointSeries': ({'composite', 't'}, set()),
    'Trajectory': ({'composite'}, {'z'}),
}


@lru_cache(maxsize=1)
def validator():
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft7Validator(schema)


def _axis_len(axis: dict) -> int:
    return len(axis['values']) if 'values' in axis else axis['num']


def check_coverage(cov: dict, parameters: dict):
    domain = cov['domain']
    axes = domain['axes']
    required, optional = DOMAIN_AXES[domain['domainType']]
    assert required <= set(axes) <= required | optional, (domain['domainType'], set(axes))
    for name, rng in cov['ranges'].items():
        assert name in parameters, f'range {name} has no parameter'
        values = rng['values']
        if 'shape' in rng:
            assert math.prod(rng['shape']) == len(values), (rng['shape'], len(values))
            assert len(rng['axisNames']) == len(rng['shape'])
            for axis_name, size in zip(rng['axisNames'], rng['shape']):
                assert axis_name in axes, f'{axis_name} not a domain axis'
                assert _axis_len(axes[axis_name]) == size, (axis_name, size)
            # axes of the domain that the range does not list must be single-valued
            for axis_name, axis in axes.items():
                if axis_name not in rng['axisNames']:
                    assert _axis_len(axis) == 1, axis_name
        else:
            assert len(values) == 1
            assert all(_axis_len(a) == 1 for a in axes.values())
        assert all(v is None or isinstance(v, (int, float)) for v in values)


def check(document: dict) -> dict:
    """Raise AssertionError/ValidationError when `document` is not valid CoverageJSON."""
    validator().validate(document)
    if document['type'] == 'Coverage':
        check_coverage(document, document['parameters'])
    else:
        assert document['type'] == 'CoverageCollection'
        for cov in document['coverages']:
            check_coverage(cov, {**document.get('parameters', {}), **cov.get('parameters', {})})
    return document


def coverages(document: dict) -> list[dict]:
    return [document] if document['type'] == 'Coverage' else document['coverages']
