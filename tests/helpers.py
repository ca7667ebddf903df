"""Shared test helpers: CoverageJSON validation (a maintained model of the standard, covjson-pydantic, plus what
it cannot see: shape x values, axis names vs the domain, ranges vs parameters, the axes each domain type allows),
and the HTTP helpers every API test uses."""
from __future__ import annotations

import copy
import datetime
import json
import math
import re

from covjson_pydantic.coverage import Coverage, CoverageCollection

DOMAIN_AXES = {
    'Grid': ({'x', 'y'}, {'z', 't'}),
    'Point': ({'x', 'y'}, {'z', 't'}),
    'PointSeries': ({'x', 'y', 't'}, {'z'}),
    'VerticalProfile': ({'x', 'y', 'z'}, {'t'}),
    'MultiPoint': ({'composite'}, {'t'}),
    'MultiPointSeries': ({'composite', 't'}, set()),
    'Trajectory': ({'composite'}, {'z'}),
}


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


ISO_INSTANT = re.compile(r'^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$')


def _gregorian_times(document: dict) -> dict:
    """covjson-pydantic parses t values as Python datetimes, which only know the Gregorian calendar; the
    standard allows other calendars (TemporalRS `calendar`), whose dates (2000-02-30 in 360_day) it would
    refuse. Those are checked here as ISO strings, and replaced by Gregorian stand-ins for the model."""
    document = copy.deepcopy(document)
    for cov in coverages(document):
        referencing = cov['domain'].get('referencing', []) + document.get('referencing', [])
        calendars = {r['system'].get('calendar') for r in referencing if r['system'].get('type') == 'TemporalRS'}
        axis = cov['domain']['axes'].get('t')
        if axis is None or calendars <= {'Gregorian'}:
            continue
        assert all(ISO_INSTANT.match(v) for v in axis['values']), axis['values']
        start = datetime.datetime(2000, 1, 1)
        axis['values'] = [(start + datetime.timedelta(hours=i)).isoformat() + 'Z' for i in range(len(axis['values']))]
    return document


def check(document: dict) -> dict:
    """Raise AssertionError/ValidationError when `document` is not valid CoverageJSON."""
    model = Coverage if document.get('type') == 'Coverage' else CoverageCollection
    # JSON mode: what a client parses (strict python mode would want enum instances, not their strings)
    model.model_validate_json(json.dumps(_gregorian_times(document)))
    for cov in coverages(document):
        # what covjson-pydantic leaves optional but the standard requires of a coverage on its own
        assert 'referencing' in cov['domain'] or 'referencing' in document, 'domain without referencing'
        assert cov['domain'].get('domainType') or document.get('domainType'), 'no domainType'
        for name, rng in cov['ranges'].items():
            assert rng['type'] == 'NdArray' and rng['dataType'] in ('float', 'integer', 'string'), name
            for axis_name in rng.get('axisNames', []):
                assert axis_name in cov['domain']['axes'], (name, axis_name)
    if document['type'] == 'Coverage':
        check_coverage(document, document['parameters'])
    else:
        assert document['type'] == 'CoverageCollection'
        for cov in document['coverages']:
            check_coverage(cov, {**document.get('parameters', {}), **cov.get('parameters', {})})
    return document


def coverages(document: dict) -> list[dict]:
    return [document] if document['type'] == 'Coverage' else document['coverages']


COVJSON = 'application/vnd.cov+json'


def get(http, path, **params):
    """GET on the session's server (`http.base`), with the query parameters given as keywords."""
    return http.get(http.base + path, params=params, timeout=60)


def covjson(response):
    """A 200 CoverageJSON answer, validated; its document."""
    assert response.status_code == 200, response.text
    assert response.headers['Content-Type'].startswith(COVJSON), response.headers['Content-Type']
    return check(response.json())


class Recording(dict):
    """A parameter mapping that remembers which names a parser asked for (to hold it to the declarations)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.asked = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)
