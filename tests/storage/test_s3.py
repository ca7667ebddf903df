"""S3 specifics against moto on loopback: request budgets, sharding, disk cache, faults, credentials."""
from __future__ import annotations

import re
import time

import pytest
import requests

from conftest import ACCESS_KEY, BUCKET, SECRET_KEY, SESSION_SERVER_ACCESS_KEY, FaultProxy, Moto, s3_env, start_server, wait_until
from kazarr_provider import demo
from kazarr_provider.data import storage
from kazarr_provider.data.catalogue import discover, get_dataset
from kazarr_provider.api.service import coverage_document
from kazarr_provider.data.storage import Location

ERA5 = '/collections/era5.pressure_levels/position'


@pytest.fixture(scope='module')
def quiet_server(moto, tmp_path_factory):
    """No catalogue refresh during the test, no disk cache: every S3 request is the query's own."""
    state = tmp_path_factory.mktemp('quiet')
    server = start_server(state, s3_env(moto, CATALOGUE_REFRESH_SECONDS='3600', CACHE_DIR=''),
                          f's3://{BUCKET}/explicit/sst_copy.zarr', 's3', None, moto)
    yield server
    server.stop()


def _range_bytes(header: str | None, object_size: int | None = None) -> int:
    start, _, end = header.split('=', 1)[1].partition('-')
    if not start:
        return int(end)
    return int(end) - int(start) + 1


def test_warm_position_is_one_get_for_the_one_chunk(moto, quiet_server):
    params = {'coords': 'POINT(200 -60)', 'z': '850', 'datetime': '2024-01-01T06:00:00Z', 'parameter-name': 't'}
    assert requests.get(quiet_server.url + ERA5, params={**params, 'coords': 'POINT(10 45)'}, timeout=30).ok
    moto.start_recording()
    response = requests.get(quiet_server.url + ERA5, params=params, timeout=30)
    recorded = moto.recorded()
    assert response.status_code == 200
    assert response.json()['ranges']['t']['values'][0] == pytest.approx(
        demo.era5_temperature(200, -60, 850, 6), abs=1e-3)
    # time 1, level 1, latitude chunk 60 // 37 = 1, longitude chunk 80 // 72 = 1
    assert [(r['method'], r['path']) for r in recorded] == [
        ('GET', f'/{BUCKET}/datasets/era5/pressure_levels.zarr/t/c/1/1/1/1')]


def test_open_reads_consolidated_metadata_and_never_probes_v2_keys(moto):
    root = Location('datasets', BUCKET)
    moto.start_recording()
    found = discover(root)
    listing = moto.recorded()
    assert 'era5.pressure_levels' in found
    assert all(r['method'] == 'GET' and 'list-type=2' in r['path'] and 'delimiter=' in r['path'] for r in listing)
    # one LIST per directory level down to each store, never inside a store
    assert not any(re.search(r'prefix=datasets%2Fera5%2Fpressure_levels.zarr%2F.', r['path']) for r in listing)
    # datasets/, its 8 entries, era5's store, 3 variants, 7 projected, 3 geozarr stores
    assert len(listing) == 1 + 8 + 1 + 3 + 7 + 3
    location, signature = found['era5.pressure_levels']
    storage._CLIENTS.clear()
    moto.start_recording()
    opened = get_dataset(Location(location.path + '/', BUCKET).__class__(location.path, BUCKET), signature)
    keys = [r['path'].split('pressure_levels.zarr/', 1)[-1] for r in moto.recorded()]
    assert opened.model.variables
    assert not any(k.endswith(('.zgroup', '.zattrs', '.zarray', '.zmetadata')) for k in keys), keys
    assert keys.count('zarr.json') == 1                 # the root, holding the consolidated metadata
    assert sorted(k for k in keys if k != 'zarr.json') == ['latitude/c/0', 'level/c/0', 'longitude/c/0',
                                                           'time/c/0']


def test_sharded_position_reads_the_inner_chunk_only(moto, tmp_path):
    local = tmp_path / 'sharded.zarr'
    demo.make_sharded(str(local))
    moto.upload(local, 'sharded/s.zarr')
    location = Location('sharded/s.zarr', BUCKET)
    opened = get_dataset(location)
    shard_size = moto.client().head_object(Bucket=BUCKET, Key='sharded/s.zarr/field/c/0/0/0')['ContentLength']
    moto.start_recording()
    document = coverage_document(opened, 'position', {'coords': 'POINT(100.1 30.2)'}, 10**6)
    recorded = moto.recorded()
    assert document['ranges']['field']['values'][0] == pytest.approx(demo.smooth_field(100.25, 30.25), abs=1e-4)
    assert all(r['method'] == 'GET' and r['path'].endswith('/field/c/0/0/0') and r['range'] for r in recorded)
    assert len(recorded) == 2                              # the shard index, then the one inner chunk
    read = sum(_range_bytes(r['range']) for r in recorded)
    assert read < shard_size / 20, (read, shard_size)
    # warm: the index is remembered, so one GET of the inner chunk, only for that version of the shard
    moto.start_recording()
    document = coverage_document(opened, 'position', {'coords': 'POINT(100.1 30.2)'}, 10**6)
    recorded = moto.recorded()
    assert document['ranges']['field']['values'][0] == pytest.approx(demo.smooth_field(100.25, 30.25), abs=1e-4)
    assert len(recorded) == 1 and recorded[0]['range'].startswith('bytes=') and recorded[0]['headers']['If-Match']


def test_a_rewritten_shard_is_read_again_not_through_its_old_index(moto, tmp_path):
    import numpy as np
    import zarr
    local = tmp_path / 'sharded.zarr'
    demo.make_sharded(str(local))
    moto.upload(local, 'sharded/r.zarr')
    opened = get_dataset(Location('sharded/r.zarr', BUCKET))
    params = {'coords': 'POINT(100.1 30.2)'}
    assert coverage_document(opened, 'position', params, 10**6)['ranges']['field']['values'][0] == \
        pytest.approx(demo.smooth_field(100.25, 30.25), abs=1e-4)
    # rewrite the shard with another field (other compressed sizes, so the old index points at wrong bytes)
    array = zarr.open_array(str(local / 'field'), mode='r+')
    lon, lat = np.meshgrid(np.arange(-179.75, 180.0, 0.5), np.arange(-89.75, 90.0, 0.5))
    array[0] = (demo.smooth_field(lon, lat) * 3.0 + np.sin(lon * 7.0)).astype('float32')
    moto.client().put_object(Bucket=BUCKET, Key='sharded/r.zarr/field/c/0/0/0',
                             Body=(local / 'field' / 'c' / '0' / '0' / '0').read_bytes())
    moto.start_recording()
    value = coverage_document(opened, 'position', params, 10**6)['ranges']['field']['values'][0]
    recorded = moto.recorded()
    assert value == pytest.approx(demo.smooth_field(100.25, 30.25) * 3.0 + np.sin(100.25 * 7.0), abs=1e-4)
    # the stale read refused (412), then the new index and the inner chunk
    assert len(recorded) == 3 and recorded[0]['headers'].get('If-Match') and 'If-Match' not in recorded[1]['headers']


def _read_all(store, key):
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync
    buffer = sync(store.get(key, default_buffer_prototype()))
    return None if buffer is None else buffer.to_bytes()


def test_disk_cache_validates_with_etag_and_never_serves_stale_bytes(moto, tmp_path, monkeypatch):
    monkeypatch.setenv('CACHE_DIR', str(tmp_path / 'cache'))
    monkeypatch.setenv('CACHE_SIZE', '1MB')
    client = moto.client()
    client.put_object(Bucket=BUCKET, Key='cachetest/a.zarr/obj', Body=b'first version')
    store = storage.zarr_store(Location('cachetest/a.zarr', BUCKET))
    assert isinstance(store, storage.S3ZarrStore) and store.cache is not None
    moto.start_recording()
    assert _read_all(store, 'obj') == b'first version'
    assert _read_all(store, 'obj') == b'first version'
    recorded = moto.recorded()
    assert len(recorded) == 2
    assert 'If-None-Match' not in recorded[0]['headers'] and recorded[1]['headers']['If-None-Match']
    assert storage.disk_cache().total() == len(b'first version')
    client.put_object(Bucket=BUCKET, Key='cachetest/a.zarr/obj', Body=b'second, changed')
    assert _read_all(store, 'obj') == b'second, changed'
    assert storage.disk_cache().total() == len(b'second, changed')


def test_disk_cache_works_with_byte_ranges_and_evicts_lru(moto, tmp_path, monkeypatch):
    monkeypatch.setenv('CACHE_DIR', str(tmp_path / 'cache'))
    monkeypatch.setenv('CACHE_SIZE', '2500B')
    client = moto.client()
    for i in range(5):
        client.put_object(Bucket=BUCKET, Key=f'cachetest/b.zarr/o{i}', Body=bytes([i]) * 1000)
    store = storage.zarr_store(Location('cachetest/b.zarr', BUCKET))
    from zarr.abc.store import RangeByteRequest
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync
    part = sync(store.get('o1', default_buffer_prototype(), RangeByteRequest(10, 20))).to_bytes()
    assert part == bytes([1]) * 10
    for i in range(5):
        assert _read_all(store, f'o{i}') == bytes([i]) * 1000
    cache = storage.disk_cache()
    assert cache.total() <= 2500
    names = {cache.name(f's3://{BUCKET}/cachetest/b.zarr/o{i}', 'None') for i in range(5)}
    kept = {n for n in names if cache.lookup(n)}
    assert kept == {cache.name(f's3://{BUCKET}/cachetest/b.zarr/o{i}', 'None') for i in (3, 4)}


def test_no_credential_anywhere(moto, server, http):
    if server.backend != 's3':
        pytest.skip('credentials are an S3 matter')
    urls = ['/', '/collections', '/collections/era5.pressure_levels', '/openapi', '/conformance',
            f'{ERA5}?coords=POINT(10)', f'{ERA5}?coords=POINT(10 45)&f=xml', '/collections/nope/position',
            '/collections/era5.pressure_levels/cube?bbox=-180,-90,180,90']
    for url in urls:
        for f in ('json', 'html'):
            text = http.get(http.base + url, params={'f': f} if 'f=' not in url else None, timeout=60).text
            assert SECRET_KEY not in text and ACCESS_KEY not in text, url
            assert SESSION_SERVER_ACCESS_KEY not in text, url
    log = server.log.read_text()
    assert SECRET_KEY not in log and ACCESS_KEY not in log and SESSION_SERVER_ACCESS_KEY not in log
    for generated in server.log.parent.glob('*.yml'):
        assert SECRET_KEY not in generated.read_text()


def test_s3_down_gives_503_then_recovers_and_deleted_dataset_gives_404(datasets_dir, tmp_path):
    moto = Moto().start()
    moto.upload(datasets_dir / 'sst_med.zarr', 'datasets/sst_med.zarr')
    moto.upload(datasets_dir / 'ensemble.zarr', 'datasets/ensemble.zarr')
    server = start_server(tmp_path, s3_env(moto, S3_TIMEOUT_SECONDS='2', S3_MAX_RETRIES='0',
                                           CATALOGUE_REFRESH_SECONDS='1'),
                          f's3://{BUCKET}/nowhere.zarr', 's3', None, moto)
    url = server.url + '/collections/sst_med/position'
    params = {'coords': 'POINT(14.05 40.05)', 'datetime': '2024-07-01T00:00:00Z'}
    try:
        assert requests.get(url, params=params, timeout=30).status_code == 200
        moto.stop()
        started = time.monotonic()
        response = requests.get(url, params={**params, 'coords': 'POINT(30.05 33.05)'}, timeout=60)
        assert response.status_code == 503
        assert time.monotonic() - started < 15
        body = response.json()
        assert 'did not answer' in body['description'] and 'Traceback' not in response.text
        assert SECRET_KEY not in response.text and '127.0.0.1' not in response.text
        assert requests.get(server.url + '/collections', timeout=30).status_code == 200   # last catalogue kept
        moto = Moto(moto.port).start()                      # back, on the same port, empty
        moto.upload(datasets_dir / 'sst_med.zarr', 'datasets/sst_med.zarr')
        moto.upload(datasets_dir / 'ensemble.zarr', 'datasets/ensemble.zarr')
        wait_until(lambda: requests.get(url, params={**params, 'coords': 'POINT(30.05 33.05)'},
                                        timeout=30).status_code == 200, 30, 'recovery after S3 restart')
        value = requests.get(url, params={**params, 'coords': 'POINT(30.05 33.05)'}, timeout=30).json()
        assert value['ranges']['analysed_sst']['values'][0] == pytest.approx(demo.sst(30.05, 33.05, 0.0), abs=6e-4)
        moto.delete_prefix('datasets/sst_med.zarr/')
        wait_until(lambda: requests.get(url, params=params, timeout=30).status_code == 404, 30,
                   '404 for a deleted dataset')
        assert requests.get(server.url + '/collections', timeout=30).status_code == 200
        log = server.log.read_text()
        assert SECRET_KEY not in log and ACCESS_KEY not in log
    finally:
        server.stop()
        moto.stop()


def test_anonymous_access_sends_unsigned_requests(moto, monkeypatch):
    """No credentials at all: the public-bucket path (unsigned requests) reads the data."""
    monkeypatch.delenv('AWS_ACCESS_KEY_ID')
    monkeypatch.delenv('AWS_SECRET_ACCESS_KEY')
    moto.client().put_object(Bucket=BUCKET, Key='public/sst_med.zarr/.zattrs', Body=b'{}', ACL='public-read')
    store = storage.zarr_store(Location('public/sst_med.zarr', BUCKET))
    moto.start_recording()
    assert _read_all(store, '.zattrs') == b'{}'
    recorded = moto.recorded()
    assert recorded and all('Authorization' not in r['headers'] for r in recorded)


def _collections(server) -> dict[str, dict]:
    document = requests.get(server.url + '/collections', params={'f': 'json'}, timeout=30).json()
    return {c['id']: c for c in document['collections']}


def test_failed_opens_are_retried_explicit_stores_rechecked_and_a_slow_walk_stays_off_requests(
        datasets_dir, explicit_store, tmp_path):
    """Opens that fail during an S3 fault come back by themselves; an explicit s3:// store that changes
    is reopened, one that is deleted answers 404; with 1 s per LIST no request waits for the walk."""
    moto = Moto().start()
    moto.upload(datasets_dir / 'sst_med.zarr', 'datasets/sst_med.zarr')
    moto.upload(datasets_dir / 'ensemble.zarr', 'datasets/ensemble.zarr')
    moto.upload(explicit_store, 'explicit/sst_copy.zarr')
    proxy = FaultProxy(moto.port)
    # listings answer, but every object GET fails: each store fails to open
    proxy.rule = lambda method, path: (503, b'<Error><Code>SlowDown</Code></Error>') \
        if method == 'GET' and ('/datasets/sst_med.zarr/' in path or '/explicit/' in path) else None
    server = start_server(tmp_path, s3_env(moto, AWS_ENDPOINT_URL=proxy.url, S3_TIMEOUT_SECONDS='2',
                                           S3_MAX_RETRIES='0', CATALOGUE_REFRESH_SECONDS='1'),
                          f's3://{BUCKET}/explicit/sst_copy.zarr', 's3', None, moto)
    point = {'coords': 'POINT(14.05 40.05)', 'datetime': '2024-07-01T00:00:00Z'}
    try:
        found = _collections(server)
        assert 'ensemble' in found and 'sst_med' not in found and 'explicit-sst' not in found
        assert 'unavailable (HTTP 503)' in server.log.read_text()
        proxy.rule = None                      # S3 healthy again; the listing has not changed
        wait_until(lambda: {'sst_med', 'explicit-sst'} <= set(_collections(server)), 20, 'failed opens retried')
        assert requests.get(server.url + '/collections/explicit-sst/position', params=point,
                            timeout=30).status_code == 200

        # a slow S3: every LIST takes 1 s, a walk takes 4 s and happens every second in the background
        proxy.rule = lambda method, path: 1.0 if 'list-type=2' in path else None
        time.sleep(1.5)
        latencies = []
        for _ in range(10):
            started = time.monotonic()
            response = requests.get(server.url + '/collections/sst_med/position', params=point, timeout=30)
            latencies.append(time.monotonic() - started)
            assert response.status_code == 200
            time.sleep(0.3)
        assert max(latencies) < 0.8, latencies

        # the explicit store is rewritten as another dataset (its zarr.json changes): reopened
        moto.delete_prefix('explicit/sst_copy.zarr/')
        moto.upload(datasets_dir / 'era5' / 'pressure_levels.zarr', 'explicit/sst_copy.zarr')
        wait_until(lambda: 't' in _collections(server).get('explicit-sst', {}).get('parameter_names', {}), 30,
                   'changed explicit store reopened')
        # ... and deleted: the collection leaves
        moto.delete_prefix('explicit/sst_copy.zarr/')
        wait_until(lambda: requests.get(server.url + '/collections/explicit-sst/position', params=point,
                                        timeout=30).status_code == 404, 30, '404 for a deleted explicit store')
        assert 'explicit-sst' not in _collections(server)
    finally:
        server.stop()
        proxy.stop()
        moto.stop()


def test_discovery_has_no_depth_limit(moto):
    deep = '/'.join(f'd{i}' for i in range(12))
    moto.client().put_object(Bucket=BUCKET, Key=f'deep/{deep}/s.zarr/zarr.json',
                             Body=b'{"zarr_format": 3, "node_type": "group"}')
    found = discover(Location('deep', BUCKET))
    assert list(found) == ['.'.join(f'd{i}' for i in range(12)) + '.s']


def test_storage_failures_have_honest_short_reasons(moto, monkeypatch):
    """Missing bucket, refused credentials, timeout, unreachable: each named, never with URL, body or key."""
    from kazarr_provider.data.catalogue import Catalogue
    from kazarr_provider.errors import DatasetUnavailable
    from kazarr_provider.data.storage import StorageUnavailable, list_level
    monkeypatch.setenv('S3_MAX_RETRIES', '0')
    monkeypatch.setenv('S3_TIMEOUT_SECONDS', '1')
    proxy = FaultProxy(moto.port)
    monkeypatch.setenv('AWS_ENDPOINT_URL', proxy.url)
    denied = (f'<Error><Code>SignatureDoesNotMatch</Code><AWSAccessKeyId>{ACCESS_KEY}</AWSAccessKeyId>'
              f'<StringToSign>AWS4-HMAC-SHA256 {SECRET_KEY}</StringToSign></Error>').encode()

    def reasons():
        storage._CLIENTS.clear()
        try:
            list_level(Location('explicit/sst_copy.zarr', BUCKET))
            listed = 'listed'
        except StorageUnavailable as error:
            listed = str(error)
        try:
            get_dataset(Location('explicit/sst_copy.zarr', BUCKET), (('zarr.json', 'x'),))
            opened = 'opened'
        except DatasetUnavailable as error:
            opened = error.description
        for text in (listed, opened):
            assert SECRET_KEY not in text and ACCESS_KEY not in text and '?' not in text and '<' not in text
            assert '127.0.0.1' not in text
        return listed, opened

    try:
        storage._CLIENTS.clear()
        with pytest.raises(StorageUnavailable, match=r'not found \(bucket or key\)'):
            list_level(Location('datasets', 'no-such-bucket'))
        proxy.rule = lambda method, path: (403, denied)
        assert all('access denied (check credentials)' in r for r in reasons())
        proxy.rule = lambda method, path: (400, b'<Error><Code>InvalidAccessKeyId</Code></Error>')
        assert all('access denied (check credentials)' in r for r in reasons())
        proxy.rule = lambda method, path: 2.0
        assert all('did not answer in time (timed out)' in r for r in reasons())
        proxy.stop()
        assert all('did not answer (unreachable)' in r for r in reasons())
        # the catalogue says so too, and keeps going with nothing
        catalogue = Catalogue(Location('datasets', 'no-such-bucket'))
        assert catalogue.entries == {}
    finally:
        proxy.stop()
        storage._CLIENTS.clear()


def test_log_records_never_carry_credentials(moto, tmp_path):
    """The redaction under every handler, and a server at DEBUG whose S3 answers echo the credentials."""
    import io
    import logging
    from kazarr_provider import logsafe
    logsafe.install()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger('kazarr-test-redaction')
    logger.addHandler(handler)
    try:
        logger.warning('signed with %s / %s', ACCESS_KEY, SECRET_KEY)
        try:
            raise RuntimeError(f'<AWSAccessKeyId>{ACCESS_KEY}</AWSAccessKeyId> secret={SECRET_KEY}')
        except RuntimeError:
            logger.exception('request failed')
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert 'signed with *** / ***' in text and 'RuntimeError: <AWSAccessKeyId>***</AWSAccessKeyId> secret=***' in text
    assert ACCESS_KEY not in text and SECRET_KEY not in text

    proxy = FaultProxy(moto.port)
    echo = (f'<Error><Code>SignatureDoesNotMatch</Code><AWSAccessKeyId>{ACCESS_KEY}</AWSAccessKeyId>'
            f'<StringToSign>{SECRET_KEY}</StringToSign></Error>').encode()
    proxy.rule = lambda method, path: (403, echo) if method == 'GET' and 'list-type' not in path else None
    server = start_server(tmp_path, s3_env(moto, AWS_ENDPOINT_URL=proxy.url, LOG_LEVEL='DEBUG', S3_MAX_RETRIES='0',
                                           CATALOGUE_REFRESH_SECONDS='1'),
                          f's3://{BUCKET}/explicit/sst_copy.zarr', 's3', None, moto)
    try:
        assert 'explicit-sst' not in _collections(server)
        time.sleep(2.5)                       # a retry round or two
        log = server.log.read_text()
        assert 'access denied (check credentials)' in log
        assert ACCESS_KEY not in log and SECRET_KEY not in log
    finally:
        server.stop()
        proxy.stop()


def test_on_demand_refresh_walks_at_most_once_per_interval(datasets_dir, tmp_path, monkeypatch):
    from kazarr_provider.data import catalogue as catalogue_module
    from kazarr_provider.server.snapshot import AppState
    from kazarr_provider.settings import Settings
    monkeypatch.setenv('DATASETS_PATH', str(datasets_dir / 'variants'))
    monkeypatch.setenv('BUCKET_NAME', '')
    monkeypatch.setenv('KAZARR_STATE_DIR', str(tmp_path))
    monkeypatch.setenv('KAZARR_CONFIG', str(tmp_path / 'absent.yml'))
    state = AppState(Settings.from_env())
    walks = []
    real = catalogue_module.discover
    monkeypatch.setattr(catalogue_module, 'discover', lambda root: walks.append(time.monotonic()) or real(root))
    started_up = state.catalogue.walked_at   # the walk at start-up ended then (building the snapshot follows)
    state.refresh_on_demand()
    assert len(walks) == 1                  # it did walk...
    assert walks[0] - started_up >= 1.9     # ...but not within 2 s of the walk at start-up
    import threading
    callers = [threading.Thread(target=state.refresh_on_demand) for _ in range(6)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    # six concurrent POSTs: one walk, 2 s after the last; the others take its answer
    assert len(walks) == 2 and walks[1] - walks[0] >= 1.9
