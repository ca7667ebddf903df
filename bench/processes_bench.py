#!/usr/bin/env python3.11
"""OGC API – Processes on S3: isolines, isobands, mesh and regrid on the MUR-like store of s3_bench.py.

The store (analysed_sst float32, 8 x 3600 x 7200, 0.05 degree, 600x600 chunks) is served from a moto S3
server on loopback by `kazarr-provider serve` under gunicorn (s3_bench.start_ours). Each process request is
POST /processes/{id}/execution with {"inputs": {...}}; reported: median and p90 after warm-up, answer size,
S3 requests and bytes of one request (moto's recorder). Also: the asynchronous overhead (submit with
`Prefer: respond-async`, poll the job until `successful`, fetch its results) against the same request run
synchronously, whole-globe isolines (sync under a raised MAX_VALUES, and async), and the peer: Kazarr's
`/isoline` method (xarray over s3fs with dask chunks='auto', the whole 3600 x 7200 step contoured in lon/lat
with the algorithm matplotlib's contour uses, one line per level, json.dumps) re-run in-process on the same
store. One answer is checked: sampled isoline vertices lie on grid edges where the field equals the level.

    .venv/bin/python bench/processes_bench.py [--workers 2] [--runs 15]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import s3_bench  # noqa: E402
from run_bench import REPO, stop_process  # noqa: E402
from s3_bench import BUCKET, COLLECTION, LAT, LON, PREFIX, STEP, STORE, TIMES, Moto, make_store, sst  # noqa: E402

PARAMETER = 'analysed_sst'
DAY = int((np.datetime64(STEP.rstrip('Z'), 'ns') - TIMES[0]) // np.timedelta64(1, 'D'))   # 2: the step's index
WINDOW = [0.0, 20.0, 20.0, 40.0]            # 400 x 400 cell centres (0.025 .. 19.975, 20.025 .. 39.975)
SMALL = [10.0, 40.0, 12.0, 42.0]            # 40 x 40
LEVELS = [298.0, 298.5, 299.0, 299.5, 300.0]  # the field spans 297.9 .. 301.3 K in WINDOW
BASE = {'collection': COLLECTION, 'parameter': PARAMETER, 'datetime': STEP}
CASES = {
    'isolines 400x400, 5 levels': ('isolines', {**BASE, 'levels': LEVELS, 'bbox': WINDOW}),
    'isobands 400x400, 5 levels (4 bands)': ('isobands', {**BASE, 'levels': LEVELS, 'bbox': WINDOW}),
    'mesh 400x400 (vertices, with the parameter)': ('mesh', {**BASE, 'bbox': WINDOW, 'data_mapping': 'vertices'}),
    'regrid 400x400 linear': ('regrid', {**BASE, 'bbox': WINDOW, 'size': [400, 400], 'method': 'linear'}),
    'regrid 400x400 cubic': ('regrid', {**BASE, 'bbox': WINDOW, 'size': [400, 400], 'method': 'cubic'}),
}
SMALL_ISOLINES = {**BASE, 'levels': LEVELS, 'bbox': SMALL}
GLOBE_ISOLINES = {**BASE, 'levels': LEVELS}          # no bbox: the whole 3600 x 7200 step
GLOBE_VALUES = LAT.size * LON.size                   # 25 920 000
TIMEOUT = 600
POLL = 0.01                                          # seconds between two job status requests
ON_LINE = 1e-4                                       # degrees: a vertex this close to a grid row/column is on it


def execution_url(base: str, process: str) -> str:
    return f'{base}/processes/{process}/execution'


def post(session, base, process, inputs, prefer=None):
    headers = {'Prefer': prefer} if prefer else {}
    return session.post(execution_url(base, process), json={'inputs': inputs}, headers=headers, timeout=TIMEOUT)


def summary(times: list[float]) -> dict:
    return {'median': float(statistics.median(times)), 'p90': float(np.percentile(times, 90)), 'runs': len(times),
            'all': [round(float(t)) for t in times]}


def time_sync(session, base, process, inputs, warmup, runs, budget=300.0) -> tuple[dict, bytes]:
    """Warm up, then time `runs` synchronous executions (body fully read); every answer must be 200."""
    def one():
        start = time.perf_counter()
        response = post(session, base, process, inputs)
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise RuntimeError(f'{process}: HTTP {response.status_code}: {response.text[:300]}')
        return elapsed, response.content

    for _ in range(warmup):
        one()
    times, deadline = [], time.monotonic() + budget
    for _ in range(runs):
        elapsed, body = one()
        times.append(elapsed)
        if time.monotonic() > deadline:
            break
    return {**summary(times), 'bytes': len(body)}, body


def run_async(session, base, process, inputs, poll=POLL) -> tuple[float, float, bytes, dict]:
    """Submit with Prefer: respond-async, poll the job every `poll` s until it is done, fetch its results.
    (ms to `successful`, ms to the results read, the results, the last status)."""
    start = time.perf_counter()
    response = post(session, base, process, inputs, prefer='respond-async')
    if response.status_code != 201:
        raise RuntimeError(f'{process} async: HTTP {response.status_code}: {response.text[:300]}')
    location = response.headers['Location']
    status = response.json()
    while status['status'] in ('accepted', 'running'):
        time.sleep(poll)
        status = session.get(location, timeout=TIMEOUT).json()
    done = (time.perf_counter() - start) * 1000
    if status['status'] != 'successful':
        raise RuntimeError(f'{process} async job {status}')
    results = session.get(f'{location}/results', timeout=TIMEOUT)
    fetched = (time.perf_counter() - start) * 1000
    if results.status_code != 200:
        raise RuntimeError(f'{process} async results: HTTP {results.status_code}: {results.text[:300]}')
    session.delete(location, timeout=TIMEOUT)            # dismissed: its results leave the results store
    return done, fetched, results.content, status


def time_async(session, base, process, inputs, warmup, runs) -> tuple[dict, bytes]:
    for _ in range(warmup):
        run_async(session, base, process, inputs)
    done, fetched = [], []
    for _ in range(runs):
        d, f, body, _ = run_async(session, base, process, inputs)
        done.append(d)
        fetched.append(f)
    return {'successful': summary(done), 'results': summary(fetched), 'bytes': len(body)}, body


def start_ours(moto: Moto, workers: int, work: Path, **env):
    """s3_bench.start_ours, with `env` laid over the environment it gives the server (MAX_VALUES ...)."""
    original = s3_bench.child_env
    s3_bench.child_env = lambda extra, drop=(): {**original(extra, drop), **env}
    try:
        return s3_bench.start_ours(moto, workers, work)
    finally:
        s3_bench.child_env = original


def fmt_requests(counts: dict) -> str:
    return ', '.join(f'{v} {k}' for k, v in counts.items() if v) or 'none'


# ---- correctness -----------------------------------------------------------------------------------------

def check_vertices(features: list[dict], samples: int, seed: int = 11) -> dict:
    """Sample isoline vertices; each must lie on the segment between two neighbouring cell centres (on a row
    of the grid, or a column) where the linear interpolation of the stored float32 field equals the level.
    On a row or column means within ON_LINE degrees of it: the stored coordinates are float32, a server may
    use the regular float64 centres (≤ 1e-5 apart here); the cell spacing is 0.05."""
    lon_c, lat_c = LON.astype('float64'), LAT.astype('float64')       # the stored (float32) coordinates
    lon_ext = np.append(lon_c, lon_c[0] + 360.0)                      # the edge across the antimeridian
    vertices, levels = [], []
    for feature in features:
        for line in feature['geometry']['coordinates']:
            vertices.append(np.asarray(line, dtype='float64'))
            levels.append(np.full(len(line), feature['properties']['level']))
    vertices, levels = np.concatenate(vertices), np.concatenate(levels)
    pick = np.random.default_rng(seed).choice(len(vertices), size=min(samples, len(vertices)), replace=False)
    worst_value, worst_gap, worst_line, off_edge = 0.0, 0.0, 0.0, 0

    def value(i, j):
        return sst(lon_c[j % lon_c.size], lat_c[i], DAY).astype('float32').astype('float64')

    for (x, y), level in zip(vertices[pick], levels[pick]):
        i = int(np.argmin(np.abs(lat_c - y)))
        xx = (x - lon_c[0]) % 360.0 + lon_c[0]
        j = int(np.argmin(np.abs(lon_c - xx)))
        if abs(lat_c[i] - y) < ON_LINE:                                  # on row i, between columns j0 and j0+1
            j0 = int(np.searchsorted(lon_ext, xx, side='right')) - 1
            j0 = min(max(j0, 0), lon_c.size - 1)
            t = (xx - lon_ext[j0]) / (lon_ext[j0 + 1] - lon_ext[j0])
            gap, line = max(0.0, -t, t - 1.0), abs(lat_c[i] - y)
            a, b = value(np.array([i]), np.array([j0])), value(np.array([i]), np.array([j0 + 1]))
        elif abs(lon_c[j] - xx) < ON_LINE:                              # on column j, between rows i0 and i0+1
            i0 = min(max(int(np.searchsorted(lat_c, y, side='right')) - 1, 0), lat_c.size - 2)
            t = (y - lat_c[i0]) / (lat_c[i0 + 1] - lat_c[i0])
            gap, line = max(0.0, -t, t - 1.0), abs(lon_c[j] - xx)
            a, b = value(np.array([i0]), np.array([j])), value(np.array([i0 + 1]), np.array([j]))
        else:
            off_edge += 1
            continue
        interpolated = float(a[0] + t * (b[0] - a[0]))
        worst_value = max(worst_value, abs(interpolated - level))
        worst_gap = max(worst_gap, gap)
        worst_line = max(worst_line, line)
    return {'vertices': int(len(vertices)), 'sampled': int(len(pick)), 'off_edge': off_edge,
            'max_abs_error': worst_value, 'max_t_outside': worst_gap, 'max_off_line': worst_line,
            'ok': off_edge == 0 and worst_value <= 1e-3 and worst_gap <= 1e-6}


def vertex_count(features: list[dict]) -> int:
    return sum(len(line) for f in features for line in f['geometry']['coordinates'])


# ---- the peer: Kazarr's /isoline method, re-run in-process ----------------------------------------------

def kazarr_isoline(moto: Moto, runs: int) -> dict:
    """What Kazarr's /isoline does (docs of the service this project replaces): the dataset opened with xarray
    over s3fs with dask chunks='auto', the whole step read (no bbox), contoured in lon/lat by matplotlib's
    contour (whose default algorithm is contourpy's 'mpl2014', SeparateCode lines, corner_mask on, one chunk;
    matplotlib is not installed here, so contourpy is called directly: no figure or artist is built), each
    level's vertices taken as ONE line (path codes ignored), and the answer serialised with json.dumps."""
    import contourpy
    import s3fs
    import xarray as xr
    fs = s3fs.S3FileSystem(key='bench', secret='bench',
                           client_kwargs={'endpoint_url': moto.url, 'region_name': 'us-east-1'})
    start = time.perf_counter()
    ds = xr.open_zarr(fs.get_mapper(f'{BUCKET}/{PREFIX}/{STORE}'), consolidated=True, chunks='auto')
    opened = (time.perf_counter() - start) * 1000
    variable = ds[PARAMETER]
    chunks = tuple(c[0] for c in variable.chunks)
    step = int(np.argmin(np.abs(ds['time'].values - np.datetime64(STEP.rstrip('Z'), 'ns'))))

    def once():
        t0 = time.perf_counter()
        field = variable.isel(time=step).values                               # dask: the 'auto' blocks
        t1 = time.perf_counter()
        lon2d, lat2d = np.meshgrid(ds['lon'].values, ds['lat'].values)       # what pyplot.contour builds
        generator = contourpy.contour_generator(lon2d, lat2d, np.ma.masked_invalid(field), name='mpl2014',
                                                corner_mask=True, line_type=contourpy.LineType.SeparateCode,
                                                chunk_size=0)
        merged = []
        for level in LEVELS:
            lines, _codes = generator.lines(level)
            merged.append(np.concatenate(lines) if lines else np.empty((0, 2)))
        t2 = time.perf_counter()
        body = json.dumps({'type': 'FeatureCollection', 'features': [
            {'type': 'Feature', 'properties': {'level': level},
             'geometry': {'type': 'LineString', 'coordinates': vertices.tolist()}}
            for level, vertices in zip(LEVELS, merged)]}).encode()
        t3 = time.perf_counter()
        return [(t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000, (t3 - t0) * 1000], body, merged

    once()                                                                   # warm-up
    once()
    phases = []
    for _ in range(runs):
        timing, body, merged = once()
        phases.append(timing)
    counts, read = moto.record(lambda: once())
    phases = np.array(phases)
    return {'open_ms': opened, 'dask_chunks': chunks, 'runs': runs,
            'read': float(np.median(phases[:, 0])), 'contour': float(np.median(phases[:, 1])),
            'serialise': float(np.median(phases[:, 2])), **summary(list(phases[:, 3])),
            'bytes': len(body), 'vertices': int(sum(len(m) for m in merged)), 's3': (counts, read)}


# ---- the run ---------------------------------------------------------------------------------------------

def measure(moto: Moto, args, work: Path) -> dict:
    out = {'cases': {}}
    proc, base = start_ours(moto, args.workers, work)
    try:
        with requests.Session() as session:
            listed = [p['id'] for p in session.get(f'{base}/processes', timeout=30).json()['processes']]
            print(f'  processes: {listed}', flush=True)
            for label, (process, inputs) in CASES.items():
                result, body = time_sync(session, base, process, inputs, args.warmup, args.runs)
                result['s3'] = moto.record(lambda: post(session, base, process, inputs))
                out['cases'][label] = result
                if process == 'isolines':
                    features = json.loads(body)['features']
                    out['window_vertices'] = vertex_count(features)
                    out['check_window'] = check_vertices(features, args.samples)
                    print(f'  check: {out["check_window"]}', flush=True)
                print(f'  {label}: {result["median"]:.1f} / {result["p90"]:.1f} ms, {result["bytes"]:,} B, '
                      f'S3 {result["s3"]}', flush=True)

            # the asynchronous overhead: a small isolines job, against the same request run synchronously
            sync_small, body = time_sync(session, base, 'isolines', SMALL_ISOLINES, args.warmup, args.async_runs)
            async_small, async_body = time_async(session, base, 'isolines', SMALL_ISOLINES, 6, args.async_runs)
            async_small['same_answer'] = json.loads(async_body) == json.loads(body)
            sync_small['s3'] = moto.record(lambda: post(session, base, 'isolines', SMALL_ISOLINES))
            async_small['s3'] = moto.record(lambda: run_async(session, base, 'isolines', SMALL_ISOLINES))
            out['small'] = {'sync': sync_small, 'async': async_small}
            print(f'  small sync {sync_small}\n  small async {async_small}', flush=True)

            # the whole globe: over MAX_VALUES synchronously (413), then as a job (MAX_ASYNC_VALUES)
            refused = post(session, base, 'isolines', GLOBE_ISOLINES)
            out['globe_sync_default'] = (refused.status_code, refused.json().get('detail', '') if
                                         refused.headers.get('Content-Type', '').endswith('json') else '')
            print(f'  globe sync under the default limit: {out["globe_sync_default"]}', flush=True)
            done, fetched = [], []
            for _ in range(2):                                                     # warm-up
                run_async(session, base, 'isolines', GLOBE_ISOLINES, poll=0.1)
            for _ in range(args.globe_runs):
                d, f, body, _ = run_async(session, base, 'isolines', GLOBE_ISOLINES, poll=0.1)
                done.append(d)
                fetched.append(f)
            out['globe_async'] = {'successful': summary(done), 'results': summary(fetched), 'bytes': len(body)}
            print(f'  globe async: {out["globe_async"]}', flush=True)
    finally:
        stop_process(proc)

    # the whole globe synchronously: the same server with MAX_VALUES above 25.9 M values
    proc, base = start_ours(moto, args.workers, work, MAX_VALUES=str(args.globe_max_values))
    try:
        with requests.Session() as session:
            # warm-up: several requests, so that each gunicorn worker has opened the store and read once
            result, body = time_sync(session, base, 'isolines', GLOBE_ISOLINES, 2 * args.workers, args.globe_runs)
            result['s3'] = moto.record(lambda: post(session, base, 'isolines', GLOBE_ISOLINES))
            features = json.loads(body)['features']
            result['vertices'] = vertex_count(features)
            result['lines'] = sum(len(f['geometry']['coordinates']) for f in features)
            out['globe_sync'] = result
            out['check_globe'] = check_vertices(features, args.samples)
            print(f'  globe sync: {result}\n  check: {out["check_globe"]}', flush=True)
    finally:
        stop_process(proc)

    out['peer'] = kazarr_isoline(moto, args.globe_runs)
    print(f'  peer: {out["peer"]}', flush=True)
    return out


def report(out: dict, args) -> str:
    when = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
    lines = [
        '# OGC API – Processes on S3 (moto on loopback): bench/processes_bench.py', '',
        f'- date: {when}; machine: nproc {os.cpu_count()}, Python {sys.version.split()[0]}',
        f'- dataset: the MUR-like store of s3_bench.py, `{PARAMETER}` float32 (time 8, lat 3600, lon 7200, 0.05°), '
        'chunks (1, 600, 600), Zarr v2 consolidated, on moto_server (S3 API on 127.0.0.1)',
        f'- server: `kazarr-provider serve` under gunicorn, {args.workers} workers (s3_bench.start_ours, '
        'MAX_VALUES 5 000 000); POST /processes/{id}/execution with `{"inputs": ...}`, '
        f'datetime {STEP}; {args.warmup} warm-up then {args.runs} timed runs per request, wall-clock with the '
        'body read; S3 requests and bytes of one more request from moto\'s recorder',
        f'- window: bbox {WINDOW} = 400 × 400 cells; levels {LEVELS}',
        f"- load average (1 min) at start / end: {out['load'][0]:.2f} / {out['load'][1]:.2f} (other sessions share "
        'the 2 cores)', '',
        '| request | median / p90 (ms) | answer | S3 requests | S3 bytes read |', '|---|---|---|---|---|']
    for label, r in out['cases'].items():
        counts, read = r['s3']
        lines.append(f"| {label} | {r['median']:.1f} / {r['p90']:.1f} | {r['bytes']:,} B | {fmt_requests(counts)} "
                     f"| {read:,} |")
    c = out['check_window']
    lines += ['', f"Isolines check (400 × 400 answer, {out['window_vertices']:,} vertices): {c['sampled']} sampled "
              f"vertices, {c['off_edge']} off a grid edge, largest |field interpolated along the edge − level| "
              f"{c['max_abs_error']:.2e} K (tolerance 1e-3): {'passed' if c['ok'] else 'FAILED'}.", '']

    s, a = out['small']['sync'], out['small']['async']
    lines += ['## Asynchronous overhead', '',
              f'isolines on a 40 × 40 window (bbox {SMALL}, 5 levels), {a["successful"]["runs"]} runs each after '
              f'warm-up; async = POST with `Prefer: respond-async` → 201, GET the Location every {POLL * 1000:.0f} '
              'ms until `successful`, GET Location/results (then DELETE, untimed):', '',
              '| mode | median / p90 (ms) | S3 requests / bytes |', '|---|---|---|',
              f"| sync (200 with the GeoJSON) | {s['median']:.1f} / {s['p90']:.1f} | {fmt_requests(s['s3'][0])} / "
              f"{s['s3'][1]:,} |",
              f"| async, submit → `successful` | {a['successful']['median']:.1f} / {a['successful']['p90']:.1f} | |",
              f"| async, submit → results read | {a['results']['median']:.1f} / {a['results']['p90']:.1f} | "
              f"{fmt_requests(a['s3'][0])} / {a['s3'][1]:,} |", '',
              f"Async overhead (median, to the results): {a['results']['median'] - s['median']:.1f} ms "
              f"({a['results']['median'] / s['median']:.1f}× the synchronous request); same answer: "
              f"{a['same_answer']}.", '']

    g, ga, p = out['globe_sync'], out['globe_async'], out['peer']
    status, detail = out['globe_sync_default']
    gc = out['check_globe']
    lines += ['## Whole globe (no bbox, 3600 × 7200 = 25 920 000 values, 5 levels) and the peer', '',
              f"- with MAX_VALUES 5 000 000 a synchronous request answers **{status}**: {detail}",
              f"- as a job (MAX_ASYNC_VALUES = 10 × MAX_VALUES; polled every 100 ms): submit → `successful` "
              f"{ga['successful']['median']:.0f} ms, → results read {ga['results']['median']:.0f} ms (median of "
              f"{ga['results']['runs']}; each run {ga['results']['all']} ms), {ga['bytes']:,} B",
              f"- synchronously with MAX_VALUES {args.globe_max_values:,} (another server start): "
              f"{g['median']:.0f} / {g['p90']:.0f} ms (median / p90 of {g['runs']}; each run {g['all']} ms), {g['bytes']:,} B, "
              f"{g['vertices']:,} vertices in {g['lines']:,} lines, S3 {fmt_requests(g['s3'][0])} / "
              f"{g['s3'][1]:,} B",
              f"- check of the whole-globe answer: {gc['sampled']} sampled vertices, {gc['off_edge']} off a grid edge, "
              f"largest error {gc['max_abs_error']:.2e} K: {'passed' if gc['ok'] else 'FAILED'}", '',
              "Kazarr's method re-run here (Kazarr itself is not installable here): xarray.open_zarr over s3fs "
              f"with chunks='auto' (dask blocks {p['dask_chunks']}), the whole step read, contoured in lon/lat "
              "with contourpy's `mpl2014` algorithm — the one matplotlib's `contour` calls; matplotlib is not in "
              "the virtualenv, so no figure or artist is built and these times are a lower bound — each level's "
              "vertices as one LineString (path codes ignored, as Kazarr does), json.dumps. "
              f"Open once ({p['open_ms']:.0f} ms, not counted), 2 warm-ups, {p['runs']} timed runs (each run {p['all']} "
              "ms):", '',
              '| whole globe, 5 levels | median / p90 (ms) | answer | vertices | S3 requests / bytes |',
              '|---|---|---|---|---|',
              f"| Kazarr's method re-run here | {p['median']:.0f} / {p['p90']:.0f} (read {p['read']:.0f}, contour "
              f"{p['contour']:.0f}, json.dumps {p['serialise']:.0f}) | {p['bytes']:,} B | {p['vertices']:,} | "
              f"{fmt_requests(p['s3'][0])} / {p['s3'][1]:,} |",
              f"| ours, whole globe, sync | {g['median']:.0f} / {g['p90']:.0f} | {g['bytes']:,} B | "
              f"{g['vertices']:,} | {fmt_requests(g['s3'][0])} / {g['s3'][1]:,} |",
              f"| ours, 400 × 400 bbox | {out['cases']['isolines 400x400, 5 levels']['median']:.1f} / "
              f"{out['cases']['isolines 400x400, 5 levels']['p90']:.1f} | "
              f"{out['cases']['isolines 400x400, 5 levels']['bytes']:,} B | {out['window_vertices']:,} | "
              f"{fmt_requests(out['cases']['isolines 400x400, 5 levels']['s3'][0])} / "
              f"{out['cases']['isolines 400x400, 5 levels']['s3'][1]:,} |", '',
              f"Ratios (medians): peer / ours whole globe {p['median'] / g['median']:.1f}×; peer / ours 400 × 400 "
              f"{p['median'] / out['cases']['isolines 400x400, 5 levels']['median']:.0f}×. Kazarr's own figure "
              "for this store, as quoted in issue 11: 6.8 s and 10 MB for 5 levels."]
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', type=Path, default=REPO / 'bench' / 'data')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--runs', type=int, default=15)
    parser.add_argument('--async-runs', type=int, default=10)
    parser.add_argument('--globe-runs', type=int, default=3)
    parser.add_argument('--globe-max-values', type=int, default=30_000_000)
    parser.add_argument('--samples', type=int, default=1000)
    parser.add_argument('--results', type=Path, default=REPO / 'bench' / 'results' / 'processes-latest.md')
    args = parser.parse_args(argv)
    store = args.data / STORE
    print(f'store {store}', flush=True)
    make_store(store)
    moto = Moto()
    with tempfile.TemporaryDirectory(prefix='procbench-') as tmp:
        work = Path(tmp)
        try:
            moto.start(work)
            print('uploading ...', flush=True)
            moto.upload(store, f'{PREFIX}/{STORE}')
            load = os.getloadavg()[0]
            out = measure(moto, args, work)
            out['load'] = (load, os.getloadavg()[0])
        finally:
            moto.stop()
    text = report(out, args)
    args.results.write_text(text)
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
