#!/usr/bin/env python3.11
"""S3 benchmark: kazarr_provider vs pygeoapi's `xarray-edr`, both reading a MUR-like store from S3.

A MUR-like global store (float32, 8 daily steps x 3600 x 7200, 600x600 chunks,
compressed, Zarr v2 consolidated) is generated once under bench/data, uploaded
to a moto S3 server on loopback, and served in turn by both servers under
gunicorn with the same worker count. Reported: median/p90 latency per query,
8-client throughput, S3 requests and bytes per query (moto's request recorder),
and the floor: fetching and decoding exactly the needed chunk in-process.

    .venv/bin/python bench/s3_bench.py [--workers 2] [--seconds 15]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests
import xarray as xr
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_bench import (BIN, REPO, builtin_config, child_env, free_port, start_process,  # noqa: E402
                       stop_process, time_query, wait_ready)

BUCKET = 'bench-mur'
PREFIX = 'mur'
STORE = 'mur.zarr'
COLLECTION = 'mur'
LAT = (np.arange(3600) * 0.05 - 89.975).astype('float32')
LON = (np.arange(7200) * 0.05 - 179.975).astype('float32')
TIMES = np.datetime64('2024-07-01T09:00:00', 'ns') + np.arange(8) * np.timedelta64(1, 'D')
CHUNKS = (1, 600, 600)
KEYS = {'AWS_ACCESS_KEY_ID': 'bench', 'AWS_SECRET_ACCESS_KEY': 'bench', 'AWS_DEFAULT_REGION': 'us-east-1'}
STEP = '2024-07-03T09:00:00Z'
QUERIES = {
    'position, 1 step': ('position', {'coords': 'POINT(10.01 40.01)', 'datetime': f'{STEP}/{STEP}'}, 1),
    'position, 8-step series': ('position', {'coords': 'POINT(10.01 40.01)',
                                             'datetime': '2024-07-01T00:00:00Z/2024-07-09T00:00:00Z'}, 8),
    'cube 40x40, 1 step': ('cube', {'bbox': '10.0,40.0,11.99,41.99', 'datetime': f'{STEP}/{STEP}'}, 1600),
    'cube 400x400, 1 step': ('cube', {'bbox': '0.0,20.0,19.99,39.99', 'datetime': f'{STEP}/{STEP}'}, 160000),
}


def sst(lon, lat, day):
    return 290.0 + 10.0 * np.cos(np.radians(lat)) + 2.0 * np.sin(np.radians(lon) * 3.0) + 0.1 * day


def make_store(path: Path):
    """Written step by step so at most one 3600x7200 slice is in memory."""
    if (path / '.zmetadata').exists():
        return
    import zarr
    coordinates = xr.Dataset(coords={
        'time': ('time', TIMES, {'standard_name': 'time'}),
        'lat': ('lat', LAT, {'standard_name': 'latitude', 'units': 'degrees_north'}),
        'lon': ('lon', LON, {'standard_name': 'longitude', 'units': 'degrees_east'})})
    coordinates.to_zarr(path, mode='w', zarr_format=2, consolidated=False,
                        encoding={'time': {'units': 'seconds since 1981-01-01', 'dtype': 'int64'}})
    group = zarr.open_group(str(path), mode='r+', zarr_format=2)
    array = group.create_array('analysed_sst', shape=(TIMES.size, LAT.size, LON.size), chunks=CHUNKS,
                               dtype='float32', fill_value=np.nan,
                               attributes={'_ARRAY_DIMENSIONS': ['time', 'lat', 'lon'], 'units': 'kelvin',
                                           'standard_name': 'sea_surface_temperature'})
    lon2, lat2 = np.meshgrid(LON.astype('float64'), LAT.astype('float64'))
    for day in range(TIMES.size):
        array[day] = sst(lon2, lat2, day).astype('float32')
        print(f'  wrote step {day + 1}/{TIMES.size}', flush=True)
    zarr.consolidate_metadata(str(path), zarr_format=2)


class Moto:
    def __init__(self):
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.proc = None
        self.sizes: dict[str, int] = {}

    def start(self, work: Path):
        self.proc = start_process([str(BIN / 'moto_server'), '-H', '127.0.0.1', '-p', str(self.port)],
                                  child_env({'MOTO_RECORDER_FILEPATH': str(work / 'moto_recording')}),
                                  work / 'moto.log')
        wait_ready(f'{self.url}/moto-api/', self.proc, work / 'moto.log')
        self.client().create_bucket(Bucket=BUCKET)

    def client(self):
        import boto3
        return boto3.client('s3', endpoint_url=self.url, region_name='us-east-1',
                            aws_access_key_id='bench', aws_secret_access_key='bench')

    def upload(self, local: Path, prefix: str):
        client = self.client()
        files = [p for p in local.rglob('*') if p.is_file()]

        def put(p):
            key = f'{prefix}/{p.relative_to(local).as_posix()}'
            body = p.read_bytes()
            client.put_object(Bucket=BUCKET, Key=key, Body=body)
            self.sizes[key] = len(body)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(put, files))

    def record(self, fn):
        requests.post(f'{self.url}/moto-api/recorder/reset-recording', timeout=10)
        requests.post(f'{self.url}/moto-api/recorder/start-recording', timeout=10)
        fn()
        text = requests.get(f'{self.url}/moto-api/recorder/download-recording', timeout=30).text
        requests.post(f'{self.url}/moto-api/recorder/stop-recording', timeout=10)
        counts = {'GET': 0, 'HEAD': 0, 'LIST': 0, 'other': 0}
        read = 0
        for line in text.strip().splitlines():
            entry = json.loads(line)
            path = entry['url'].split(self.url, 1)[-1]
            key = path.split('?')[0].split(f'/{BUCKET}/', 1)[-1]
            kind = 'LIST' if 'list-type=' in path else entry['method'] if entry['method'] in counts else 'other'
            counts[kind] += 1
            if kind == 'GET':
                header = entry['headers'].get('Range')
                if header:
                    start, _, end = header.split('=', 1)[1].partition('-')
                    read += int(end) - int(start) + 1 if start else int(end)
                else:
                    read += self.sizes.get(key, 0)
        return counts, read

    def stop(self):
        if self.proc:
            stop_process(self.proc)


def start_ours(moto: Moto, workers: int, work: Path):
    port = free_port()
    env = child_env({'BUCKET_NAME': BUCKET, 'DATASETS_PATH': PREFIX, 'AWS_ENDPOINT_URL': moto.url, **KEYS,
                     'KAZARR_STATE_DIR': str(work / 'state'), 'MAX_VALUES': '5000000',
                     'CATALOGUE_REFRESH_SECONDS': '3600', 'LOG_LEVEL': 'WARNING'},
                    drop=('PUBLIC_URL', 'HOSTNAME', 'PORT', 'KAZARR_CONFIG', 'CACHE_DIR'))
    log = work / 'ours.log'
    proc = start_process([str(BIN / 'kazarr-provider'), 'serve', '--host', '127.0.0.1', '--port', str(port),
                          '--workers', str(workers)], env, log)
    base = f'http://127.0.0.1:{port}'
    wait_ready(f'{base}/health', proc, log)
    return proc, base


def start_builtin(moto: Moto, workers: int, work: Path):
    port = free_port()
    config = builtin_config(Path('unused'), port)
    resource = config['resources'].pop('bench')
    provider = resource['providers'][0]
    provider.update(data=f's3://{BUCKET}/{PREFIX}/{STORE}', x_field='lon', y_field='lat',
                    options={'s3': {'key': 'bench', 'secret': 'bench',
                                    'client_kwargs': {'endpoint_url': moto.url, 'region_name': 'us-east-1'}}})
    import datetime as dt
    resource['extents']['temporal'] = {
        'begin': dt.datetime(2024, 7, 1, 9, tzinfo=dt.timezone.utc),
        'end': dt.datetime(2024, 7, 8, 9, tzinfo=dt.timezone.utc)}
    config['resources'][COLLECTION] = resource
    config_file, openapi = work / 'builtin.yml', work / 'builtin-openapi.yml'
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    env = child_env({'PYGEOAPI_CONFIG': str(config_file), 'PYGEOAPI_OPENAPI': str(openapi), **KEYS})
    import subprocess
    subprocess.run([str(BIN / 'pygeoapi'), 'openapi', 'generate', str(config_file), '--output-file', str(openapi)],
                   cwd=REPO, env=env, check=True, capture_output=True, timeout=300)
    log = work / 'builtin.log'
    proc = start_process([str(BIN / 'gunicorn'), '-w', str(workers), '-b', f'127.0.0.1:{port}', '--timeout', '300',
                          'pygeoapi.flask_app:APP'], env, log)
    base = f'http://127.0.0.1:{port}'
    wait_ready(f'{base}/collections/{COLLECTION}?f=json', proc, log)
    return proc, base


def throughput(base: str, seconds: float, clients: int = 8) -> dict:
    rng = np.random.default_rng(7)
    points = [(float(x), float(y)) for x, y in zip(rng.uniform(-170, 170, 50), rng.uniform(-70, 70, 50))]
    url = f'{base}/collections/{COLLECTION}/position'
    latencies, errors, lock = [], [0], threading.Lock()
    deadline = time.monotonic() + seconds

    def client(k):
        with requests.Session() as session:
            i = k
            while time.monotonic() < deadline:
                x, y = points[i % len(points)]
                i += clients
                start = time.perf_counter()
                ok = session.get(url, params={'coords': f'POINT({x} {y})', 'datetime': f'{STEP}/{STEP}'},
                                 timeout=60).status_code == 200
                with lock:
                    (latencies.append((time.perf_counter() - start) * 1000) if ok else errors.__setitem__(
                        0, errors[0] + 1))
    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    elapsed = time.monotonic() - started
    return {'rps': len(latencies) / elapsed, 'p50': statistics.median(latencies),
            'p99': float(np.percentile(latencies, 99)), 'requests': len(latencies), 'errors': errors[0]}


def floor(moto: Moto, runs: int = 30) -> dict:
    """Fetch and decode exactly the chunk holding the point, in-process (obstore + the array's codec)."""
    import obstore
    import zarr
    from obstore.store import S3Store
    from zarr.storage import ObjectStore
    store = S3Store(BUCKET, prefix=f'{PREFIX}/{STORE}', config={
        'endpoint': moto.url, 'access_key_id': 'bench', 'secret_access_key': 'bench', 'region': 'us-east-1'},
        client_options={'allow_http': True})
    array = zarr.open_array(ObjectStore(store, read_only=True), path='analysed_sst', mode='r', zarr_format=2)
    compressor = array.metadata.compressor
    i, j = int((40.01 + 89.975) / 0.05 + 0.5), int((10.01 + 179.975) / 0.05 + 0.5)
    key = f'analysed_sst/2.{i // 600}.{j // 600}'

    def raw():
        data = obstore.get(store, key).bytes()
        chunk = np.frombuffer(compressor.decode(bytes(data)), dtype='float32').reshape(600, 600)
        return chunk[i % 600, j % 600]

    def timed(fn):
        for _ in range(3):
            fn()
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - start) * 1000)
        return statistics.median(samples)
    return {'raw GET + decode': timed(raw), 'zarr-python element read': timed(lambda: array[2, i, j])}


def run_server(name, starter, moto, args, work) -> dict:
    proc, base = starter(moto, args.workers, work)
    out = {'queries': {}, 'requests': {}}
    try:
        with requests.Session() as session:
            for label, (kind, params, expected) in QUERIES.items():
                url = f'{base}/collections/{COLLECTION}/{kind}'
                result = time_query(session, url, params, 3, args.runs, 120)
                result['expected'] = expected
                out['queries'][label] = result
                counts, read = moto.record(lambda: session.get(url, params=params, timeout=120))
                out['requests'][label] = (counts, read)
                print(f'  {name} {label}: median {result["median"]:.1f} ms, p90 {result["p90"]:.1f} ms, '
                      f'{result["values"]} values, S3 {counts} {read} bytes', flush=True)
        out['throughput'] = throughput(base, args.seconds)
        print(f'  {name} throughput: {out["throughput"]}', flush=True)
    finally:
        stop_process(proc)
    return out


def report(ours, builtin, floors, args) -> str:
    lines = [f'# S3 benchmark (moto on loopback): kazarr_provider vs pygeoapi xarray-edr',
             '', f'- date: {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}; machine: nproc {os.cpu_count()}, '
             f'Python {sys.version.split()[0]}',
             f'- dataset: MUR-like analysed_sst float32 (time 8, lat 3600, lon 7200), chunks {CHUNKS}, Zarr v2 '
             'consolidated, float32 coordinates, on moto_server (S3 API on 127.0.0.1)',
             f'- servers: gunicorn, {args.workers} worker(s) each, one after the other; 3 warm-up requests, '
             f'{args.runs} timed runs per query; datetime as `T/T` (the built-in provider answers 204 to instants)',
             '', '| query | ours median / p90 (ms) | built-in median / p90 (ms) | built-in/ours | values ours / built-in '
             '| S3 requests ours / built-in | bytes read ours / built-in |', '|---|---|---|---|---|---|---|']
    for label in QUERIES:
        o, b = ours['queries'][label], builtin['queries'][label]
        (oc, ob), (bc, bb) = ours['requests'][label], builtin['requests'][label]
        fmt = lambda c: ', '.join(f'{v} {k}' for k, v in c.items() if v)  # noqa: E731
        lines.append(f"| {label} | {o['median']:.1f} / {o['p90']:.1f} | {b['median']:.1f} / {b['p90']:.1f} | "
                     f"{b['median'] / o['median']:.1f}x | {o['values']} / {b['values']} | {fmt(oc)} / {fmt(bc)} | "
                     f"{ob:,} / {bb:,} |")
    to, tb = ours['throughput'], builtin['throughput']
    lines += ['', f'8 concurrent clients, {args.seconds:.0f} s, single-point position at 50 points:', '',
              '| server | requests/s | p50 (ms) | p99 (ms) | errors |', '|---|---|---|---|---|',
              f"| ours | {to['rps']:.1f} | {to['p50']:.1f} | {to['p99']:.1f} | {to['errors']} |",
              f"| built-in | {tb['rps']:.1f} | {tb['p50']:.1f} | {tb['p99']:.1f} | {tb['errors']} |",
              '', f"Throughput ratio ours/built-in: {to['rps'] / tb['rps']:.1f}x", '',
              'Floor (in-process, the one chunk holding the point): '
              + ', '.join(f'{k} {v:.1f} ms' for k, v in floors.items()),
              '', f"Position ours/floor (raw GET + decode): "
              f"{ours['queries']['position, 1 step']['median'] / floors['raw GET + decode']:.1f}x"]
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--data', type=Path, default=REPO / 'bench' / 'data')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--runs', type=int, default=20)
    parser.add_argument('--seconds', type=float, default=15.0)
    args = parser.parse_args(argv)
    store = args.data / STORE
    print(f'store {store}', flush=True)
    make_store(store)
    moto = Moto()
    with tempfile.TemporaryDirectory(prefix='s3bench-') as tmp:
        work = Path(tmp)
        try:
            moto.start(work)
            print('uploading ...', flush=True)
            moto.upload(store, f'{PREFIX}/{STORE}')
            floors = floor(moto)
            print(f'  floor {floors}', flush=True)
            ours = run_server('ours', start_ours, moto, args, work)
            builtin = run_server('built-in', start_builtin, moto, args, work)
        finally:
            moto.stop()
    text = report(ours, builtin, floors, args)
    out = REPO / 'bench' / 'results' / 's3-latest.md'
    out.write_text(text)
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
