#!/usr/bin/env python3.11
"""Benchmark kazarr_provider against pygeoapi's built-in `xarray-edr` provider.

Both servers read the same local Zarr store (generated on first use) and run
under gunicorn with the same worker count. Each EDR query is sent a few times
to warm up, then timed over N runs; the medians, p90s and value counts go to
a markdown table, printed and written to bench/results/latest.md.

    .venv/bin/python bench/run_bench.py [--data bench/data] [--workers 1]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
import xarray as xr
import yaml

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent          # the venv's bin: kazarr-provider, pygeoapi, gunicorn
STORE_NAME = 'bench.zarr'                  # collection id `bench` on both servers
COLLECTION = 'bench'

# global 0.25 degree grid, latitude descending like ERA5, longitude 0..359.75
LAT = np.linspace(90.0, -90.0, 721)
LON = np.arange(1440) * 0.25
TIMES = np.datetime64('2024-01-01T00:00:00', 'ns') + np.arange(4) * np.timedelta64(1, 'D')
CHUNKS = (1, 200, 200)

# One time step, written as the interval [t, t]. pygeoapi's xarray-edr position
# query compares `datetime` with the calendar date of each step and finds nothing
# for an RFC 3339 instant (see PROBES); both servers answer the interval form.
STEP = '2024-01-02T00:00:00Z'
DATETIME = f'{STEP}/{STEP}'
QUERIES = {
    # name: (query type, parameters, expected value count)
    'position POINT(10 45)': ('position', {'coords': 'POINT(10 45)', 'datetime': DATETIME,
                                           'parameter-name': 't2m'}, 1),
    # 400 x 400 cells: lon 0..99.75, lat -40..59.75
    'cube 400x400 bbox=0,-40,99.9,59.9': ('cube', {'bbox': '0,-40,99.9,59.9', 'datetime': DATETIME,
                                                   'parameter-name': 't2m'}, 400 * 400),
}
# untimed, sent once to each server: status and value count go into the notes
PROBES = {
    'position, datetime as an instant': ('position', {'coords': 'POINT(10 45)', 'datetime': STEP,
                                                      'parameter-name': 't2m'}),
    'cube, datetime as an instant': ('cube', {'bbox': '0,-40,99.9,59.9', 'datetime': STEP,
                                              'parameter-name': 't2m'}),
    'position at lon -170 (190 in the data)': ('position', {'coords': 'POINT(-170 45)', 'datetime': DATETIME,
                                                            'parameter-name': 't2m'}),
    'cube 400x400 across lon 0: bbox=-50,-40,49.9,59.9': ('cube', {'bbox': '-50,-40,49.9,59.9',
                                                                   'datetime': DATETIME,
                                                                   'parameter-name': 't2m'}),
}

START_TIMEOUT = 120.0      # seconds for a server to answer after start
REQUEST_TIMEOUT = 120.0    # seconds for one request


def t2m_field(lon: np.ndarray, lat: np.ndarray, day: float) -> np.ndarray:
    """Kelvin; smooth in lon and lat, shifts with the day."""
    lon_r, lat_r = np.radians(lon), np.radians(lat)
    return 230.0 + 60.0 * np.cos(lat_r) + 5.0 * np.sin(lon_r + day) + 0.5 * day


def make_store(path: Path) -> None:
    """Write the benchmark store (Zarr v2, consolidated) unless it is already there."""
    if (path / '.zmetadata').is_file():
        with xr.open_zarr(path, consolidated=True) as existing:
            shape = existing['t2m'].shape if 't2m' in existing else None
        if shape != (TIMES.size, LAT.size, LON.size):
            raise SystemExit(f'{path} holds t2m of shape {shape}, not the benchmark grid: delete it to rebuild')
        return
    print(f'writing benchmark store {path} ...', flush=True)
    lon2d, lat2d = np.meshgrid(LON, LAT)
    values = np.stack([t2m_field(lon2d, lat2d, float(d)) for d in range(TIMES.size)]).astype('float32')
    ds = xr.Dataset(
        {'t2m': (('time', 'latitude', 'longitude'), values,
                 {'units': 'K', 'standard_name': 'air_temperature', 'long_name': '2 metre temperature'})},
        coords={
            'time': ('time', TIMES, {'standard_name': 'time', 'axis': 'T'}),
            'latitude': ('latitude', LAT, {'standard_name': 'latitude', 'units': 'degrees_north'}),
            'longitude': ('longitude', LON, {'standard_name': 'longitude', 'units': 'degrees_east'}),
        },
        attrs={'title': 'kazarr_provider benchmark store', 'description': 'analytic t2m, 0.25 degree global'},
    )
    encoding = {'t2m': {'chunks': CHUNKS},
                'time': {'units': 'days since 2024-01-01 00:00:00', 'dtype': 'int64'}}
    partial = path.with_name(path.name + '.partial')
    shutil.rmtree(partial, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_zarr(partial, mode='w', zarr_format=2, consolidated=True, encoding=encoding)
    partial.rename(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def child_env(extra: dict, drop: tuple[str, ...] = ()) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra)
    return env


def start_process(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    """Start `cmd` in its own process group (so stopping it also stops gunicorn's workers)."""
    with open(log, 'wb') as fh:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_ready(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f'server exited with {proc.returncode} before answering {url}:\n{tail(log)}')
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise RuntimeError(f'{url} did not answer 200 within {START_TIMEOUT:.0f} s:\n{tail(log)}')


def tail(log: Path, lines: int = 30) -> str:
    try:
        return '\n'.join(log.read_text(errors='replace').splitlines()[-lines:])
    except OSError:
        return '(no log)'


def start_ours(store: Path, workers: int, work: Path) -> tuple[subprocess.Popen, str, str, Path]:
    """(process, base URL, readiness URL, log) of kazarr-provider serving only `store`."""
    port = free_port()
    log = work / 'ours.log'
    # DATASETS_PATH may name a store itself: it becomes the only collection, `bench`
    env = child_env({'DATASETS_PATH': str(store), 'KAZARR_STATE_DIR': str(work / 'kazarr-state'),
                     'LOG_LEVEL': 'WARNING', 'PYGEOAPI_LOG_LEVEL': 'WARNING'},
                    drop=('PUBLIC_URL', 'HOSTNAME', 'PORT', 'KAZARR_CONFIG', 'MAX_VALUES', 'WORKERS'))
    proc = start_process([str(BIN / 'kazarr-provider'), 'serve', '--host', '127.0.0.1', '--port', str(port),
                          '--workers', str(workers)], env, log)
    base = f'http://127.0.0.1:{port}'
    return proc, base, f'{base}/health', log


def builtin_config(store: Path, port: int) -> dict:
    url = f'http://127.0.0.1:{port}'
    return {
        'server': {'bind': {'host': '127.0.0.1', 'port': port}, 'url': url,
                   'mimetype': 'application/json; charset=UTF-8', 'encoding': 'utf-8', 'gzip': False,
                   'languages': ['en-US'], 'cors': False, 'pretty_print': False,
                   'limits': {'default_items': 10, 'max_items': 50},
                   'map': {'url': 'https://tile.openstreetmap.org/{z}/{x}/{y}.png', 'attribution': 'OSM'}},
        'logging': {'level': 'WARNING'},
        'metadata': {
            'identification': {'title': {'en': 'builtin'}, 'description': {'en': 'xarray-edr benchmark'},
                               'keywords': {'en': ['zarr']}, 'keywords_type': 'theme',
                               'terms_of_service': 'https://creativecommons.org/licenses/by/4.0/',
                               'url': 'https://example.org'},
            'license': {'name': 'CC-BY 4.0', 'url': 'https://creativecommons.org/licenses/by/4.0/'},
            'provider': {'name': 'bench', 'url': 'https://example.org'},
            'contact': {'name': 'bench', 'position': 'bench', 'address': '', 'city': '', 'stateorprovince': '',
                        'postalcode': '', 'country': '', 'phone': '', 'fax': '', 'email': '', 'url': '',
                        'hours': '', 'instructions': '', 'role': 'pointOfContact'}},
        'resources': {COLLECTION: {
            'type': 'collection', 'title': 'bench', 'description': 'benchmark store', 'keywords': ['bench'],
            'links': [],
            'extents': {
                'spatial': {'bbox': [-180, -90, 180, 90], 'crs': 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'},
                # datetime objects (YAML timestamps): pygeoapi rejects strings here
                'temporal': {'begin': utc(TIMES[0]), 'end': utc(TIMES[-1])}},
            'providers': [{'type': 'edr', 'name': 'xarray-edr', 'data': str(store),
                           'x_field': 'longitude', 'y_field': 'latitude', 'time_field': 'time',
                           'format': {'name': 'zarr', 'mimetype': 'application/zip'}}]}},
    }


def utc(value: np.datetime64) -> dt.datetime:
    return dt.datetime.fromisoformat(str(value.astype('datetime64[s]'))).replace(tzinfo=dt.timezone.utc)


def start_builtin(store: Path, workers: int, work: Path) -> tuple[subprocess.Popen, str, str, Path]:
    """(process, base URL, readiness URL, log) of stock pygeoapi with one xarray-edr collection."""
    port = free_port()
    log = work / 'builtin.log'
    config, openapi = work / 'builtin-config.yml', work / 'builtin-openapi.yml'
    config.write_text(yaml.safe_dump(builtin_config(store, port), sort_keys=False))
    env = child_env({'PYGEOAPI_CONFIG': str(config), 'PYGEOAPI_OPENAPI': str(openapi)})
    generated = subprocess.run([str(BIN / 'pygeoapi'), 'openapi', 'generate', str(config),
                                '--output-file', str(openapi)],
                               cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    if generated.returncode != 0:
        raise RuntimeError(f'pygeoapi openapi generate failed:\n{generated.stderr[-2000:]}')
    proc = start_process([str(BIN / 'gunicorn'), '-w', str(workers), '-b', f'127.0.0.1:{port}',
                          '--timeout', '300', 'pygeoapi.flask_app:APP'], env, log)
    base = f'http://127.0.0.1:{port}'
    return proc, base, f'{base}/collections/{COLLECTION}?f=json', log


def count_values(document) -> dict:
    """Values, non-null values and their sum over every NdArray in a CoverageJSON document."""
    total = valid = 0
    checksum = 0.0
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get('type') == 'NdArray' and isinstance(node.get('values'), list):
                numbers = [v for v in node['values'] if v is not None]
                total += len(node['values'])
                valid += len(numbers)
                checksum += float(np.sum(numbers, dtype='float64')) if numbers else 0.0
            else:
                stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(x for x in node if isinstance(x, (dict, list)))
    return {'values': total, 'valid': valid, 'checksum': checksum}


def time_query(session: requests.Session, url: str, params: dict, warmup: int, runs: int,
               budget: float) -> dict:
    """Warm up, then time `runs` requests (stopping early past `budget` seconds)."""
    def one() -> tuple[float, requests.Response]:
        start = time.perf_counter()
        response = session.get(url, params=params, timeout=REQUEST_TIMEOUT)
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            raise RuntimeError(f'HTTP {response.status_code}: {response.text[:300]}')
        return elapsed, response

    for _ in range(warmup):
        _, response = one()
    result = count_values(response.json())
    times = []
    deadline = time.monotonic() + budget
    for _ in range(runs):
        elapsed, response = one()
        times.append(elapsed * 1000.0)
        if time.monotonic() > deadline:
            break
    result.update(median=statistics.median(times), p90=float(np.percentile(times, 90)), runs=len(times),
                  bytes=len(response.content))
    return result


def probe(session: requests.Session, url: str, params: dict) -> str:
    """One untimed request: its status; for a 200, the value count (and, for a point, where it lies)."""
    try:
        response = session.get(url, params=params, timeout=REQUEST_TIMEOUT)
    except requests.RequestException as error:
        return f'{type(error).__name__}'
    if response.status_code != 200:
        return f'HTTP {response.status_code} {response.text[:120]!r}'
    document = response.json()
    counted = count_values(document)
    text = f"HTTP 200, {counted['values']} values"
    axes = find_key(document, 'axes') or {}
    if counted['values'] == 1 and 'values' in axes.get('x', {}):
        text += f" (x {axes['x']['values'][0]}, y {axes['y']['values'][0]}, value {counted['checksum']:.4f})"
    return text


def find_key(node, key):
    """The first value under `key` anywhere in a JSON document (depth-first), or None."""
    if isinstance(node, dict):
        if key in node:
            return node[key]
        node = list(node.values())
    if isinstance(node, list):
        for child in node:
            found = find_key(child, key)
            if found is not None:
                return found
    return None


def run_queries(base: str, args) -> tuple[dict[str, dict], dict[str, str]]:
    results, probes = {}, {}
    with requests.Session() as session:
        for name, (kind, params, _expected) in QUERIES.items():
            runs = args.position_runs if kind == 'position' else args.cube_runs
            url = f'{base}/collections/{COLLECTION}/{kind}'
            try:
                results[name] = time_query(session, url, params, args.warmup, runs, args.budget)
            except (RuntimeError, requests.RequestException, ValueError) as error:
                results[name] = {'error': str(error)}
            print(f'  {name}: {summary(results[name])}', flush=True)
        for name, (kind, params) in PROBES.items():
            probes[name] = probe(session, f'{base}/collections/{COLLECTION}/{kind}', params)
            print(f'  probe {name}: {probes[name]}', flush=True)
    return results, probes


def summary(result: dict) -> str:
    if 'error' in result:
        return f"ERROR {result['error']}"
    return (f"median {result['median']:.1f} ms, p90 {result['p90']:.1f} ms over {result['runs']} runs, "
            f"{result['values']} values ({result['valid']} non-null, sum {result['checksum']:.6g}), "
            f"{result['bytes']} bytes")


def report(results: dict, probes: dict, args) -> str:
    ours, builtin = results['ours'], results['builtin']

    def cell(result, key, fmt='{:.1f}'):
        return 'error' if 'error' in result else fmt.format(result[key])

    def counts(result, expected):
        if 'error' in result:
            return 'error'
        return f"{result['values']}" + ('' if result['values'] == expected else ' (!)')

    lines = [
        '# kazarr_provider vs pygeoapi xarray-edr',
        '',
        f"- date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f'- machine: nproc {os.cpu_count()}, Python {sys.version.split()[0]}',
        f'- dataset: t2m float32 (time {TIMES.size}, latitude {LAT.size}, longitude {LON.size}), '
        f'chunks {CHUNKS}, Zarr v2 consolidated, local disk',
        f'- servers: gunicorn, {args.workers} worker(s) each, run one after the other; '
        f'{args.warmup} warm-up requests per query',
        f'- datetime={DATETIME}, parameter-name=t2m; times are wall-clock ms per request '
        '(requests.Session, body read)',
        '',
        '| query | runs ours/builtin | ours median | ours p90 | builtin median | builtin p90 | builtin/ours '
        '| values ours | values builtin | sum ours | sum builtin | bytes ours | bytes builtin |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ]
    for name, (_kind, _params, expected) in QUERIES.items():
        a, b = ours[name], builtin[name]
        ratio = 'n/a' if 'error' in a or 'error' in b else f"{b['median'] / a['median']:.1f}x"
        lines.append(
            f"| {name} | {a.get('runs', '-')}/{b.get('runs', '-')} | {cell(a, 'median')} | {cell(a, 'p90')} | "
            f"{cell(b, 'median')} | {cell(b, 'p90')} | {ratio} | {counts(a, expected)} | {counts(b, expected)} | "
            f"{cell(a, 'checksum', '{:.10g}')} | {cell(b, 'checksum', '{:.10g}')} | "
            f"{cell(a, 'bytes', '{}')} | {cell(b, 'bytes', '{}')} |")
    lines += ['', '(!) = not the expected count (' +
              ', '.join(f'{n}: {e}' for n, (_k, _p, e) in QUERIES.items()) + '); sum = sum of non-null values',
              '', '| probe (untimed) | ours | builtin |', '|---|---|---|']
    for name in PROBES:
        lines.append(f"| {name} | {probes['ours'][name]} | {probes['builtin'][name]} |")
    errors = [f'- {who} {name}: {r["error"]}' for who in ('ours', 'builtin')
              for name, r in results[who].items() if 'error' in r]
    if errors:
        lines += ['', 'Errors:', ''] + errors
    return '\n'.join(lines) + '\n'


def write_results(text: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + '.tmp')
    partial.write_text(text)
    partial.replace(path)


def check_dependencies() -> None:
    import importlib.util
    if importlib.util.find_spec('fsspec') is None:
        raise SystemExit("pygeoapi's xarray provider imports fsspec, which is not installed: "
                         f'{sys.executable} -m pip install fsspec')
    for tool in ('kazarr-provider', 'pygeoapi', 'gunicorn'):
        if not (BIN / tool).exists():
            raise SystemExit(f'{BIN / tool} not found: run this script with the project virtualenv python')


def parse_args(argv=None):
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', type=Path, default=here / 'data', help='directory of the benchmark store')
    parser.add_argument('--results', type=Path, default=here / 'results' / 'latest.md')
    parser.add_argument('--workers', type=int, default=1, help='gunicorn workers, the same for both servers')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--position-runs', type=int, default=30)
    parser.add_argument('--cube-runs', type=int, default=10)
    parser.add_argument('--budget', type=float, default=300.0, help='max seconds of timed runs per query')
    args = parser.parse_args(argv)
    if min(args.workers, args.warmup, args.position_runs, args.cube_runs) < 1:
        parser.error('--workers, --warmup and the run counts must be >= 1')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    check_dependencies()
    store = args.data.resolve() / STORE_NAME
    make_store(store)
    results, probes = {}, {}
    with tempfile.TemporaryDirectory(prefix='kazarr-bench-') as tmp:
        work = Path(tmp)
        # one server at a time, so the two never compete for the CPUs
        for who, start in (('ours', start_ours), ('builtin', start_builtin)):
            proc, base, ready_url, log = start(store, args.workers, work)
            try:
                wait_ready(ready_url, proc, log)
                print(f'{who}: {base}', flush=True)
                results[who], probes[who] = run_queries(base, args)
            except BaseException:
                print(f'--- {who} server log (tail) ---\n{tail(log)}', file=sys.stderr)
                raise
            finally:
                stop_process(proc)
            if any('error' in r for r in results[who].values()):
                print(f'--- {who} server log (tail) ---\n{tail(log)}', file=sys.stderr)
    text = report(results, probes, args)
    write_results(text, args.results)
    print('\n' + text)
    print(f'written to {args.results}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
