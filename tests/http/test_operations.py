"""Operations: /metrics (Prometheus text, summed over gunicorn workers), the access log with its request id,
the token of POST /catalogue/refresh and the request id exposed to cross-origin clients.

The `http` tests run against the session servers (local and S3, one worker, no REFRESH_TOKEN); the `ops`
tests against a two-worker server on S3 with a disk cache, REFRESH_TOKEN and CORS_ORIGINS set.
"""
from __future__ import annotations

import json
import os
import re
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import BUCKET, s3_env, start_server, wait_until

SST = '/collections/sst_med'
POINT = {'coords': 'POINT(14 40)'}
POSITION_RULE = '/collections/<path:collection_id>/position'
TOKEN = 'operator-token-5c1e'
ORIGIN = 'https://maps.example'
HEX_ID = re.compile(r'^[0-9a-f]{32}$')


# -- helpers ---------------------------------------------------------------------------------------------

def scrape(base: str) -> list:
    """Every sample of /metrics, parsed by prometheus_client's own parser."""
    response = requests.get(f'{base}/metrics', timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers['Content-Type'].startswith('text/plain')
    return [sample for family in text_string_to_metric_families(response.text) for sample in family.samples]


def value(samples: list, name: str, **labels) -> float:
    """The sum of the samples called `name` whose labels include `labels` (0 when there is none)."""
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def settled(base: str, name: str, expected: float, **labels) -> float:
    """The value once it has reached `expected`, or what it is after 20 s. A request is counted when the
    server closes it, which can be a moment after the client has read the answer."""
    deadline = time.monotonic() + 20
    while True:
        current = value(scrape(base), name, **labels)
        if current >= expected or time.monotonic() > deadline:
            return current
        time.sleep(0.1)


def access_lines(log: Path) -> list[dict]:
    out = []
    for line in log.read_text(errors='replace').splitlines():
        if line.startswith('{'):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if 'request_id' in entry:
                out.append(entry)
    return out


def logged(log: Path, ids: set[str]) -> list[dict]:
    """The access-log lines of these request ids, once each id has one."""
    def have():
        return ids <= {entry['request_id'] for entry in access_lines(log)}
    wait_until(have, 20, f'access-log lines of {sorted(ids)}')
    return [entry for entry in access_lines(log) if entry['request_id'] in ids]


def run_job(http) -> dict:
    inputs = {'collection': 'era5.pressure_levels', 'parameter': 't', 'levels': [260.0, 275.0],
              'bbox': [-10, 30, 30, 60]}
    response = http.post(f'{http.base}/processes/isolines/execution', json={'inputs': inputs},
                         headers={'Prefer': 'respond-async'}, timeout=120)
    assert response.status_code == 201, response.text
    location = response.headers['Location']
    status = response.json()
    deadline = time.monotonic() + 60
    while status['status'] in ('accepted', 'running') and time.monotonic() < deadline:
        time.sleep(0.2)
        status = http.get(location, timeout=30).json()
    return status


# -- the session servers (local and S3, one worker) ---------------------------------------------------------

def test_metrics_parse_and_name_what_they_count(http):
    http.get(f'{http.base}/health', timeout=30)
    samples = scrape(http.base)
    names = {s.name for s in samples}
    assert {'kazarr_http_requests_total', 'kazarr_http_request_duration_seconds_bucket',
            'kazarr_http_request_duration_seconds_count', 'kazarr_http_request_duration_seconds_sum',
            'kazarr_http_requests_in_progress', 'kazarr_s3_get_requests_total', 'kazarr_s3_get_bytes_total',
            'kazarr_disk_cache_hits_total', 'kazarr_disk_cache_misses_total', 'kazarr_jobs'} <= names
    routes = {s.labels['route'] for s in samples if s.name == 'kazarr_http_requests_total'}
    assert '/health' in routes
    assert not any('collections/' in r and '<' not in r for r in routes), routes     # rules, never raw paths
    assert {s.labels['status'] for s in samples if s.name == 'kazarr_jobs'} == \
        {'accepted', 'running', 'successful', 'failed', 'dismissed'}
    # this scrape is itself in progress
    assert value(samples, 'kazarr_http_requests_in_progress') >= 1


def test_request_counters_and_latency_histogram_count_each_request_once(http):
    before = scrape(http.base)
    labels = {'method': 'GET', 'route': POSITION_RULE}
    ok = value(before, 'kazarr_http_requests_total', status='200', **labels)
    bad = value(before, 'kazarr_http_requests_total', status='400', **labels)
    observed = value(before, 'kazarr_http_request_duration_seconds_count', **labels)
    for lon in (13, 14, 15, 16, 17):
        assert http.get(f'{http.base}{SST}/position', params={'coords': f'POINT({lon} 40)'},
                        timeout=30).status_code == 200
    for _ in range(3):
        assert http.get(f'{http.base}{SST}/position', params={'coords': 'POINT(x y)'}, timeout=30).status_code == 400
    assert settled(http.base, 'kazarr_http_request_duration_seconds_count', observed + 8, **labels) == observed + 8
    after = scrape(http.base)
    assert value(after, 'kazarr_http_requests_total', status='200', **labels) == ok + 5
    assert value(after, 'kazarr_http_requests_total', status='400', **labels) == bad + 3
    assert value(after, 'kazarr_http_request_duration_seconds_bucket', le='+Inf', **labels) == observed + 8
    # a path no rule matches is counted under one route, whatever the path
    unmatched = value(after, 'kazarr_http_requests_total', route='unmatched', status='404')
    for i in range(2):
        http.get(f'{http.base}/no/such/{uuid.uuid4().hex}', timeout=30)
    assert settled(http.base, 'kazarr_http_requests_total', unmatched + 2, route='unmatched', status='404') == \
        unmatched + 2


def test_s3_counters_move_with_chunk_reads_on_s3_only(http, server):
    before = scrape(http.base)
    response = http.get(f'{http.base}{SST}/cube', params={'bbox': '12,38,16,42'}, timeout=60)
    assert response.status_code == 200, response.text
    after = scrape(http.base)
    requests_made = value(after, 'kazarr_s3_get_requests_total') - value(before, 'kazarr_s3_get_requests_total')
    bytes_read = value(after, 'kazarr_s3_get_bytes_total') - value(before, 'kazarr_s3_get_bytes_total')
    if server.backend == 's3':
        assert requests_made > 0 and bytes_read > 0
    else:
        assert requests_made == 0 and bytes_read == 0
        assert value(after, 'kazarr_s3_get_requests_total') == 0


def test_jobs_by_status_reflect_a_job_that_ran(http):
    before = scrape(http.base)
    status = run_job(http)
    assert status['status'] == 'successful', status
    after = scrape(http.base)
    assert value(after, 'kazarr_jobs', status='successful') == value(before, 'kazarr_jobs', status='successful') + 1
    assert value(after, 'kazarr_jobs') == value(before, 'kazarr_jobs') + 1
    listed = http.get(f'{http.base}/jobs', params={'status': 'successful', 'limit': 1000}, timeout=30).json()
    assert status['jobID'] in [job['jobID'] for job in listed['jobs']]
    dismissed = http.delete(f'{http.base}/jobs/{status["jobID"]}', timeout=30)
    assert dismissed.status_code == 200
    last = scrape(http.base)
    assert value(last, 'kazarr_jobs', status='dismissed') == value(after, 'kazarr_jobs', status='dismissed') + 1
    assert value(last, 'kazarr_jobs', status='successful') == value(after, 'kazarr_jobs', status='successful') - 1


@pytest.mark.parametrize('sent, echoed', [
    ('req-1.A_b', True),
    ('a' * 128, True),
    ('a' * 129, False),            # too long
    ('two words', False),          # outside [A-Za-z0-9._-]
    ('id;drop', False),
    ('', False),
    (None, False),
])
def test_request_id_is_echoed_when_valid_else_generated(http, sent, echoed):
    headers = {} if sent is None else {'X-Request-ID': sent}
    response = http.get(f'{http.base}/health', headers=headers, timeout=30)
    given = response.headers['X-Request-ID']
    if echoed:
        assert given == sent
    else:
        assert HEX_ID.match(given) and given != sent


def test_request_id_on_errors_and_new_for_each_request(http):
    ids = set()
    for method, path in (('GET', '/no/such/path'), ('DELETE', '/health'), ('GET', f'{SST}/position'),
                         ('GET', '/health'), ('GET', '/health')):
        response = http.request(method, f'{http.base}{path}', timeout=30)
        assert response.status_code in (200, 400, 404, 405)
        assert HEX_ID.match(response.headers['X-Request-ID'])
        ids.add(response.headers['X-Request-ID'])
    assert len(ids) == 5


def test_one_access_log_line_per_request_with_its_request_id(http, server):
    secret = f'secret-{uuid.uuid4().hex}'
    sent = {}
    for i, (path, params) in enumerate([(f'{SST}/position', POINT), ('/health', {}),
                                         ('/no/such/path', {'q': 'x'})]):
        request_id = f'ops-{uuid.uuid4().hex}-{i}'
        response = http.get(f'{http.base}{path}', params=params, timeout=30,
                            headers={'X-Request-ID': request_id, 'User-Agent': f'ops-test/{i}',
                                     'Authorization': f'Bearer {secret}'})
        assert response.headers['X-Request-ID'] == request_id
        sent[request_id] = (path, params, response)
    # a request without an id of its own: its line carries the generated one
    generated = http.get(f'{http.base}/health', timeout=30).headers['X-Request-ID']
    lines = logged(server.log, set(sent) | {generated})
    assert sorted(e['request_id'] for e in lines) == sorted(set(sent) | {generated})      # one line each
    by_id = {e['request_id']: e for e in lines}
    routes = {f'{SST}/position': POSITION_RULE, '/health': '/health', '/no/such/path': None}
    for request_id, (path, params, response) in sent.items():
        entry = by_id[request_id]
        assert set(entry) >= {'time', 'request_id', 'method', 'route', 'path', 'query', 'status', 'duration_ms',
                              'bytes', 'remote_addr', 'user_agent'}
        assert entry['method'] == 'GET' and entry['path'] == path and entry['route'] == routes[path]
        assert entry['status'] == response.status_code
        assert entry['bytes'] == len(response.content)
        assert entry['duration_ms'] >= 0 and entry['remote_addr'] == '127.0.0.1'
        assert entry['user_agent'] == f'ops-test/{list(sent).index(request_id)}'
        assert entry['query'] == urlencode(params)
        assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$', entry['time'])
    assert secret not in server.log.read_text(errors='replace')          # Authorization is never logged


def test_refresh_is_open_without_a_configured_token(http):
    response = http.post(f'{http.base}/catalogue/refresh', timeout=60)
    assert response.status_code == 200 and 'collections' in response.json()


# -- a two-worker server on S3: disk cache, REFRESH_TOKEN, CORS ---------------------------------------------

@pytest.fixture(scope='module')
def ops(request, datasets_dir, explicit_store, tmp_path_factory):
    moto = request.getfixturevalue('moto')
    state = tmp_path_factory.mktemp('state-ops')
    server = start_server(state, s3_env(moto, REFRESH_TOKEN=TOKEN, CACHE_DIR=str(state / 'cache'),
                                        CORS_ORIGINS=ORIGIN),
                          f's3://{BUCKET}/explicit/sst_copy.zarr', 's3', datasets_dir, moto, workers=2)
    server.metrics_dir = state / 'metrics' / str(urlsplit(server.url).port)
    server.health_sent = 0
    # both workers loaded: requests on new connections until each has answered some
    with ThreadPoolExecutor(8) as pool:
        for _ in range(50):
            list(pool.map(lambda _: requests.get(f'{server.url}/health', timeout=30), range(16)))
            server.health_sent += 16
            if len({e['pid'] for e in access_lines(server.log) if e['route'] == '/health'}) == 2:
                break
    yield server
    server.stop()


def test_counts_across_workers_add_up_to_the_requests_sent(ops):
    pids = {e['pid'] for e in access_lines(ops.log) if e['route'] == '/health'}
    assert len(pids) == 2, 'the two workers both answered /health'
    files = {p.name for p in ops.metrics_dir.glob('*.db')}
    assert any(f'counter_{pid}.db' in files for pid in pids) and len(files) >= 2
    before = scrape(ops.url)
    labels = {'method': 'GET', 'route': '/health', 'status': '200'}
    count = value(before, 'kazarr_http_requests_total', **labels)
    ids = set()

    def one(_):
        request_id = uuid.uuid4().hex
        ids.add(request_id)
        return requests.get(f'{ops.url}/health', headers={'X-Request-ID': request_id}, timeout=30).status_code

    sent = 0
    while True:               # until both workers answered some of these (each request on a new connection)
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(one, range(24))) == {200}
        sent += 24
        if len({e['pid'] for e in logged(ops.log, ids)}) == 2 or sent >= 24 * 20:
            break
    served_by = {e['pid'] for e in logged(ops.log, ids)}
    assert len(served_by) == 2
    assert settled(ops.url, 'kazarr_http_requests_total', count + sent, **labels) == count + sent
    after = scrape(ops.url)
    assert value(after, 'kazarr_http_request_duration_seconds_count', method='GET', route='/health') == count + sent
    # every request since the start was counted once, whichever worker answered it
    assert value(after, 'kazarr_http_requests_total', **labels) >= ops.health_sent + sent


def test_s3_requests_and_bytes_match_what_s3_received_and_the_cache_answers_repeats(ops):
    def s3_gets():
        return [r for r in ops.moto.recorded() if r['method'] == 'GET' and 'list-type=' not in r['path']]

    params = {'bbox': '12,38,16,42'}
    ops.moto.start_recording()
    before = scrape(ops.url)
    first = requests.get(f'{ops.url}{SST}/cube', params=params, timeout=60)
    assert first.status_code == 200, first.text
    middle = scrape(ops.url)
    gets = s3_gets()

    def delta(a, b, name):
        return value(b, name) - value(a, name)
    assert gets and delta(before, middle, 'kazarr_s3_get_requests_total') == len(gets)
    assert delta(before, middle, 'kazarr_s3_get_bytes_total') > 0
    assert delta(before, middle, 'kazarr_disk_cache_misses_total') > 0
    # the same query again: every GET is answered 304 and the bytes come from the disk cache
    ops.moto.start_recording()
    again = requests.get(f'{ops.url}{SST}/cube', params=params, timeout=60)
    assert again.status_code == 200 and again.content == first.content
    last = scrape(ops.url)
    gets = s3_gets()
    assert gets and delta(middle, last, 'kazarr_s3_get_requests_total') == len(gets)
    assert delta(middle, last, 'kazarr_s3_get_bytes_total') == 0
    assert delta(middle, last, 'kazarr_disk_cache_hits_total') == len(gets)
    assert delta(middle, last, 'kazarr_disk_cache_misses_total') == 0


@pytest.mark.parametrize('headers, challenge', [
    ({}, 'Bearer'),
    ({'Authorization': 'Bearer wrong-token'}, 'Bearer error="invalid_token"'),
    ({'Authorization': f'Bearer {TOKEN}x'}, 'Bearer error="invalid_token"'),
    ({'Authorization': f'Basic {TOKEN}'}, 'Bearer'),
    ({'Authorization': TOKEN}, 'Bearer'),
    ({'Authorization': 'Bearer'}, 'Bearer'),
])
def test_refresh_without_the_right_token_is_401(ops, headers, challenge):
    response = requests.post(f'{ops.url}/catalogue/refresh', headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.headers['WWW-Authenticate'] == challenge
    assert response.headers['Content-Type'] == 'application/json'
    body = response.json()
    assert body['code'] == 'Unauthorized' and TOKEN not in response.text


def test_refresh_with_the_token_is_200(ops):
    for scheme in ('Bearer', 'bearer'):
        response = requests.post(f'{ops.url}/catalogue/refresh', headers={'Authorization': f'{scheme} {TOKEN}'},
                                 timeout=60)
        assert response.status_code == 200, response.text
        assert 'sst_med' in response.json()['collections']
    assert TOKEN not in ops.log.read_text(errors='replace')


def test_cross_origin_clients_may_read_the_request_id(ops):
    response = requests.get(f'{ops.url}/health', headers={'Origin': ORIGIN, 'X-Request-ID': 'cors-1'}, timeout=30)
    assert response.headers['Access-Control-Allow-Origin'] == ORIGIN
    assert 'X-Request-ID' in [h.strip() for h in response.headers['Access-Control-Expose-Headers'].split(',')]
    assert response.headers['X-Request-ID'] == 'cors-1'
    preflight = requests.options(f'{ops.url}/catalogue/refresh', timeout=30, headers={
        'Origin': ORIGIN, 'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization, x-request-id'})
    assert preflight.status_code == 200
    assert preflight.headers['Access-Control-Allow-Headers'] == 'authorization, x-request-id'


def test_a_worker_that_exits_keeps_its_counts_and_leaves_no_live_gauge(ops):
    labels = {'method': 'GET', 'route': '/health', 'status': '200'}
    before = scrape(ops.url)
    count = value(before, 'kazarr_http_requests_total', **labels)
    pids = {e['pid'] for e in access_lines(ops.log) if e['route'] == '/health'}
    victim = sorted(pids)[0]
    assert (ops.metrics_dir / f'gauge_livesum_{victim}.db').exists()
    os.kill(victim, signal.SIGKILL)
    # gunicorn's master reaps it and runs our child_exit hook: its live gauge file goes
    wait_until(lambda: not (ops.metrics_dir / f'gauge_livesum_{victim}.db').exists(), 30,
               'the dead worker to be marked dead')
    assert (ops.metrics_dir / f'counter_{victim}.db').exists()
    assert requests.get(f'{ops.url}/health', timeout=30).status_code == 200       # the other worker answers
    # the dead worker's requests still count, and the one above once; only the scrape itself is in progress
    assert settled(ops.url, 'kazarr_http_requests_total', count + 1, **labels) == count + 1
    assert value(scrape(ops.url), 'kazarr_http_requests_in_progress') == 1
