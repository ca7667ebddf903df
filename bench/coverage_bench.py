#!/usr/bin/env python3.11
"""OGC API Coverages on S3: kazarr_provider vs pygeoapi's built-in xarray coverage provider.

A MUR-like multiscale store (analysed_sst float32, 8 daily steps; level 0 is 3600 x 7200 at 0.05 degree,
each next level is the 2 x 2 mean of the one before: 0.1, 0.2, 0.4, 0.8 degree, the last fitting one chunk;
600 x 600 chunks, Zarr v2 consolidated) is written once under bench/data, uploaded to a moto S3 server on
loopback, and served in turn by both servers under gunicorn with the same worker count:

- ours: `kazarr-provider serve` over the bucket prefix, the store is the collection `mur_pyramid`;
- built-in: stock pygeoapi, `name: xarray`, `type: coverage`, reading level 0 (the same chunk objects,
  uploaded a second time as a store of its own: see `upload_level0`).

For each request it reports median and p90 latency over N runs after warm-up, the S3 requests and bytes
(moto's recorder), the multiscale level that answered (`Kazarr-Level`), and checks the pixels against the
closed formula `sst(lon, lat, day)`. GDAL's OGCAPI driver is run against both (`gdal_translate -outsize`).

    .venv/bin/python bench/coverage_bench.py [--workers 2] [--runs 20] [--globe-runs 3] [--gdal-runs 10]

The built-in provider imports fsspec and s3fs (the `bench` extra: pip install -e '.[bench]'); GDAL's command-line
tools (gdal-bin) must be on PATH. The store (340 MB) is written on the first run; a run takes about 8 minutes,
most of it the built-in's whole-grid CoverageJSON answers (about 50 s and 470 MB each). Report:
bench/results/coverage-latest.md.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_bench import (BIN, REPO, builtin_config, child_env, free_port, start_process, stop_process,  # noqa: E402
                       tail, time_query, wait_ready, write_results)
from s3_bench import BUCKET, CHUNKS, LAT, LON, PREFIX, TIMES, Moto, sst, start_ours  # noqa: E402

STORE = 'mur_pyramid.zarr'             # under PREFIX (start_ours serves PREFIX): collection `mur_pyramid`
COLLECTION = 'mur_pyramid'
BUILTIN_PREFIX = 'builtin'             # outside PREFIX, so our server does not list it
BUILTIN_STORE = 'mur_level0.zarr'      # level 0 of the pyramid as a store of its own, for the built-in
VARIABLE = 'analysed_sst'
CELL0 = 0.05
MULTISCALES_UUID = 'd35379db-88df-4056-af3a-620245f8e347'   # zarr-conventions multiscales
# |d sst / d lon| <= 2 * 3 * pi/180 and |d sst / d lat| <= 10 * pi/180 (K per degree)
SLOPE_LON, SLOPE_LAT = 6.0 * np.pi / 180.0, 10.0 * np.pi / 180.0
REQUEST_TIMEOUT = 900.0


# --------------------------------------------------------------------------------------------- the store

def level_shapes() -> list[tuple[int, int]]:
    """(lat, lon) sizes, finest first, halved until one level fits one chunk."""
    shapes = [(LAT.size, LON.size)]
    while shapes[-1][0] > CHUNKS[1] or shapes[-1][1] > CHUNKS[2]:
        h, w = shapes[-1]
        shapes.append((h // 2, w // 2))
    return shapes


def level_coords(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre latitudes (ascending, like MUR) and longitudes of level k, float32 like s3_bench."""
    if k == 0:
        return LAT, LON
    cell = level_cell(k)
    h, w = level_shapes()[k]
    return ((-90.0 + cell * (np.arange(h) + 0.5)).astype('float32'),
            (-180.0 + cell * (np.arange(w) + 0.5)).astype('float32'))


def coarsen(values: np.ndarray) -> np.ndarray:
    """2 x 2 mean (float64 sums of the float32 values), as float32."""
    h, w = values.shape
    return values.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3), dtype='float64').astype('float32')


def make_pyramid(path: Path) -> None:
    """Write the multiscale store unless it is there: step by step, every level of a step from the one before.

    At most one 3600 x 7200 float32 slice (and its float64 formula) is in memory at a time.
    """
    if (path / '.zmetadata').exists():
        return
    import zarr
    shapes = level_shapes()
    partial = path.with_name(path.name + '.partial')
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    arrays, layout = [], []
    for k, (h, w) in enumerate(shapes):
        lat, lon = level_coords(k)
        xr.Dataset(coords={
            'time': ('time', TIMES, {'standard_name': 'time'}),
            'lat': ('lat', lat, {'standard_name': 'latitude', 'units': 'degrees_north'}),
            'lon': ('lon', lon, {'standard_name': 'longitude', 'units': 'degrees_east'})}).to_zarr(
            partial, group=str(k), mode='w' if k == 0 else 'a', zarr_format=2, consolidated=False,
            encoding={'time': {'units': 'seconds since 1981-01-01', 'dtype': 'int64'}})
        group = zarr.open_group(str(partial), path=str(k), mode='r+', zarr_format=2)
        arrays.append(group.create_array(
            VARIABLE, shape=(TIMES.size, h, w), chunks=(1, min(CHUNKS[1], h), min(CHUNKS[2], w)),
            dtype='float32', fill_value=np.nan,
            attributes={'_ARRAY_DIMENSIONS': ['time', 'lat', 'lon'], 'units': 'kelvin',
                        'standard_name': 'sea_surface_temperature'}))
        item = {'asset': str(k)}
        if k:
            item.update({'derived_from': str(k - 1), 'transform': {'scale': [2.0, 2.0], 'translation': [0.0, 0.0]},
                         'resampling_method': 'mean'})
        layout.append(item)
    root = zarr.open_group(str(partial), mode='r+', zarr_format=2)
    root.attrs.update({'title': 'MUR-like analysed_sst, multiscale (2 x 2 means)',
                       'zarr_conventions': [{'uuid': MULTISCALES_UUID, 'name': 'multiscales'}],
                       'multiscales': {'layout': layout, 'resampling_method': 'mean'}})
    lon0, lat0 = LON.astype('float64')[None, :], LAT.astype('float64')[:, None]
    for day in range(TIMES.size):
        values = sst(lon0, lat0, day).astype('float32')
        for k, array in enumerate(arrays):
            if k:
                values = coarsen(values)
            array[day] = values
        print(f'  wrote step {day + 1}/{TIMES.size} of {len(arrays)} levels', flush=True)
    zarr.consolidate_metadata(str(partial), zarr_format=2)
    partial.rename(path)


def level_cell(k: int) -> float:
    return CELL0 * 2 ** k


def level_slice(k: int, day: int, _cache: dict = {}) -> np.ndarray:  # noqa: B006 - one slice kept
    """Level k of time step `day`, computed as make_pyramid writes it (float32)."""
    if (k, day) not in _cache:
        _cache.clear()
        values = sst(LON.astype('float64')[None, :], LAT.astype('float64')[:, None], day).astype('float32')
        for _ in range(k):
            values = coarsen(values)
        _cache[(k, day)] = values
    return _cache[(k, day)]


def level_chunk_keys(k: int, day: int, bbox=None) -> list[str]:
    """Chunk keys of level k at step `day` (all of them, or those a lon/lat box touches)."""
    h, w = level_shapes()[k]
    ch, cw = min(CHUNKS[1], h), min(CHUNKS[2], w)
    rows, cols = range(-(-h // ch)), range(-(-w // cw))
    if bbox is not None:
        west, south, east, north = bbox
        cell = level_cell(k)
        i0, i1 = max(0, int((south + 90) / cell + 1e-6)), min(h - 1, int(np.ceil((north + 90) / cell - 1e-6)) - 1)
        j0, j1 = max(0, int((west + 180) / cell + 1e-6)), min(w - 1, int(np.ceil((east + 180) / cell - 1e-6)) - 1)
        rows, cols = range(i0 // ch, i1 // ch + 1), range(j0 // cw, j1 // cw + 1)
    return [f'{PREFIX}/{STORE}/{k}/{VARIABLE}/{day}.{r}.{c}' for r in rows for c in cols]


# --------------------------------------------------------------------------------------------- S3 and servers

def upload_level0(moto: Moto, store: Path) -> str:
    """Level 0 once more as a store of its own (same chunk objects, its own consolidated metadata).

    pygeoapi's xarray provider opens `data` with xarray.open_zarr only when it ends in `.zarr`, and passes
    no group: the level group `.../mur_pyramid.zarr/0` goes to xarray.open_dataset, which finds no engine for
    it (see `builtin_open_error`).
    """
    prefix = f'{BUILTIN_PREFIX}/{BUILTIN_STORE}'
    moto.upload(store / '0', prefix)
    metadata = json.loads((store / '.zmetadata').read_text())['metadata']
    own = {key[2:]: value for key, value in metadata.items() if key.startswith('0/')}
    body = json.dumps({'metadata': own, 'zarr_consolidated_format': 1}).encode()
    moto.client().put_object(Bucket=BUCKET, Key=f'{prefix}/.zmetadata', Body=body)
    moto.sizes[f'{prefix}/.zmetadata'] = len(body)
    return f's3://{BUCKET}/{prefix}'


def s3_options(moto: Moto) -> dict:
    return {'s3': {'key': 'bench', 'secret': 'bench',
                   'client_kwargs': {'endpoint_url': moto.url, 'region_name': 'us-east-1'}}}


def provider_def(moto: Moto, data: str) -> dict:
    return {'type': 'coverage', 'name': 'xarray', 'data': data, 'x_field': 'lon', 'y_field': 'lat',
            'time_field': 'time', 'format': {'name': 'zarr', 'mimetype': 'application/zip'},
            'options': s3_options(moto)}


def builtin_open_error(moto: Moto, data: str) -> str | None:
    """What pygeoapi's xarray provider says when it opens `data` (None: it opens)."""
    from pygeoapi.provider.xarray_ import XarrayProvider
    try:
        XarrayProvider(provider_def(moto, data))
    except Exception as error:  # noqa: BLE001 - reported as is
        return f'{type(error).__name__}: {str(error).splitlines()[0].split(". ")[0]}'
    return None


def start_builtin(moto: Moto, workers: int, work: Path, data: str):
    """Stock pygeoapi under gunicorn, one collection served by `name: xarray, type: coverage`."""
    import datetime as dt
    port = free_port()
    config = builtin_config(Path('unused'), port)
    resource = config['resources'].pop('bench')
    resource.update(title=COLLECTION, description='MUR-like analysed_sst, level 0 of the pyramid',
                    providers=[provider_def(moto, data)])
    resource['extents']['temporal'] = {'begin': dt.datetime(2024, 7, 1, 9, tzinfo=dt.timezone.utc),
                                       'end': dt.datetime(2024, 7, 8, 9, tzinfo=dt.timezone.utc)}
    config['resources'][COLLECTION] = resource
    config_file, openapi = work / 'builtin.yml', work / 'builtin-openapi.yml'
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    env = child_env({'PYGEOAPI_CONFIG': str(config_file), 'PYGEOAPI_OPENAPI': str(openapi),
                     'AWS_ACCESS_KEY_ID': 'bench', 'AWS_SECRET_ACCESS_KEY': 'bench',
                     'AWS_DEFAULT_REGION': 'us-east-1'})
    subprocess.run([str(BIN / 'pygeoapi'), 'openapi', 'generate', str(config_file), '--output-file', str(openapi)],
                   cwd=REPO, env=env, check=True, capture_output=True, timeout=300)
    log = work / 'builtin.log'
    proc = start_process([str(BIN / 'gunicorn'), '-w', str(workers), '-b', f'127.0.0.1:{port}',
                          '--timeout', str(int(REQUEST_TIMEOUT)), 'pygeoapi.flask_app:APP'], env, log)
    base = f'http://127.0.0.1:{port}'
    wait_ready(f'{base}/collections/{COLLECTION}?f=json', proc, log)
    return proc, base, log


# --------------------------------------------------------------------------------------------- timing

def time_get(session: requests.Session, url: str, params: dict, warmup: int, runs: int, budget: float) -> dict:
    """time_query (run_bench) for any body: warm up, then time `runs` GETs (body read), stop past `budget` s."""
    def one():
        start = time.perf_counter()
        response = session.get(url, params=params, timeout=REQUEST_TIMEOUT)
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            raise RuntimeError(f'HTTP {response.status_code}: {response.text[:300]}')
        return elapsed, response
    for _ in range(warmup):
        one()
    times, deadline = [], time.monotonic() + budget
    for _ in range(runs):
        elapsed, response = one()
        times.append(elapsed * 1000.0)
        if time.monotonic() > deadline:
            break
    return {'median': statistics.median(times), 'p90': float(np.percentile(times, 90)), 'runs': len(times),
            'bytes': len(response.content)}


def measure(session, moto: Moto, url: str, params: dict, warmup: int, runs: int, budget: float,
            covjson: bool = False) -> dict:
    """Timings, then one more request under moto's recorder: its S3 requests and bytes, and the response."""
    try:
        result = (time_query if covjson else time_get)(session, url, params, warmup, runs, budget)
        if covjson:
            result['bytes'] = None      # time_query keeps the size of the last timed body
        held = {}
        counts, read = moto.record(lambda: held.setdefault(
            'response', session.get(url, params=params, timeout=REQUEST_TIMEOUT)))
        result.update(s3=(counts, read), response=held['response'])
        result['bytes'] = len(held['response'].content)
    except (RuntimeError, requests.RequestException, ValueError) as error:
        result = {'error': str(error)[:400]}
    return result


def gdal_translate(base: str, work: Path, debug: bool = False,
                   options: tuple = ()) -> tuple[float, subprocess.CompletedProcess, Path]:
    """One `gdal_translate -outsize 1024 512 OGCAPI:...` in a fresh directory (GDAL's WMS cache lives in ./)."""
    run_dir = Path(tempfile.mkdtemp(prefix='gdal-', dir=work))
    env = child_env({'CPL_DEBUG': 'ON', 'CPL_CURL_VERBOSE': 'YES'} if debug else {})
    start = time.perf_counter()
    done = subprocess.run(['gdal_translate', *options, '-outsize', '1024', '512',
                           f'OGCAPI:{base}/collections/{COLLECTION}', 'out.tif'],
                          cwd=run_dir, env=env, capture_output=True, text=True, timeout=REQUEST_TIMEOUT)
    return (time.perf_counter() - start) * 1000.0, done, run_dir / 'out.tif'


def gdal_requests(stderr: str) -> list[str]:
    return re.findall(r'CURL_INFO_HEADER_OUT: GET (\S+) HTTP/', stderr)


def gdal_errors(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith('ERROR') or 'OGCAPI:' in line[:8]]
    return ' / '.join(line.strip()[:300] for line in lines[-4:]) or stderr.strip()[-300:]


def measure_gdal(base: str, session, moto: Moto, work: Path, runs: int) -> dict:
    """Capture GDAL's requests once, then time whole gdal_translate runs and the captured requests replayed."""
    elapsed, done, out = gdal_translate(base, work, debug=True)
    sent = gdal_requests(done.stderr)
    result = {'requests': sent, 'returncode': done.returncode}
    if done.returncode != 0 or not out.exists():
        result['error'] = f'gdal_translate exit {done.returncode}: {gdal_errors(done.stderr)}'
        # the driver's choice of API failed: say what asking for the coverage API explicitly gives
        _, forced, _ = gdal_translate(base, work, debug=True, options=('-oo', 'API=COVERAGE'))
        result['error'] += (f'; with -oo API=COVERAGE: exit {forced.returncode}: {gdal_errors(forced.stderr)} '
                            f'(requests: {", ".join(gdal_requests(forced.stderr))})')
        return result
    times = []
    gdal_translate(base, work)                                     # warm-up
    for _ in range(runs):
        elapsed, done, out = gdal_translate(base, work)
        if done.returncode != 0:
            raise RuntimeError(f'gdal_translate failed: {gdal_errors(done.stderr)}')
        times.append(elapsed)
    counts, read = moto.record(lambda: gdal_translate(base, work))
    result.update(median=statistics.median(times), p90=float(np.percentile(times, 90)), runs=len(times),
                  s3=(counts, read), out=out, bytes=out.stat().st_size)
    # the same requests, one after the other, from one connection (no GDAL start-up, no parallelism)
    replays, levels, statuses = [], {}, set()
    for _ in range(runs + 1):
        start = time.perf_counter()
        for path in sent:
            response = session.get(base + path, timeout=REQUEST_TIMEOUT)
            statuses.add(response.status_code)
            levels[path] = response.headers.get('Kazarr-Level')
        replays.append((time.perf_counter() - start) * 1000.0)
    replays = replays[1:]
    result['replay'] = {'median': statistics.median(replays), 'p90': float(np.percentile(replays, 90)),
                        'runs': len(replays), 'statuses': sorted(statuses),
                        'levels': sorted(set(filter(None, levels.values()))), 'by_path': levels}
    return result


# --------------------------------------------------------------------------------------------- correctness

def answered(headers) -> tuple[int, int]:
    """(level, time step) an answer names: `Kazarr-Level: level=k` (level 0 when absent), `Content-Datetime`."""
    match = re.search(r'level=(\d+)', headers.get('Kazarr-Level', ''))
    day = TIMES.size - 1
    if headers.get('Content-Datetime'):
        stamp = np.datetime64(headers['Content-Datetime'].rstrip('Z'), 'ns')
        day = int(np.flatnonzero(TIMES == stamp)[0])
    return (int(match.group(1)) if match else 0), day


def nearest_cells(k: int, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat_k, lon_k = level_coords(k)
    h, w = level_shapes()[k]
    cell = level_cell(k)
    i = np.clip(np.rint((lat - float(lat_k[0])) / cell), 0, h - 1).astype(int)
    j = np.clip(np.rint((lon - float(lon_k[0])) / cell), 0, w - 1).astype(int)
    return i, j


def check_grid(values: np.ndarray, lon: np.ndarray, lat: np.ndarray, k: int, day: int, extra_cell: float = 0.0):
    """Compare with the formula at the pixel centres (tolerance of a level-k nearest cell) and with the
    nearest level-k cell exactly."""
    formula = sst(lon, lat, day)
    error = np.abs(values.astype('float64') - formula)
    # the nearest cell centre is at most half a cell away on each axis (plus half an intermediate cell for
    # GDAL, which resamples its own blocks); a cell mean differs from its centre value by < 1e-4 K here
    tolerance = (level_cell(k) + extra_cell) / 2 * (SLOPE_LON + SLOPE_LAT) + 1e-3
    i, j = nearest_cells(k, lon, lat)
    exact = values == level_slice(k, day)[i, j]
    return {'level': k, 'day': day, 'shape': values.shape, 'nan': int(np.isnan(values).sum()),
            'max_error': float(np.nanmax(error)), 'tolerance': tolerance,
            'within': bool(np.all(error <= tolerance)), 'exact': float(exact.mean())}


def check_geotiff(body: bytes, headers, extra_cell: float = 0.0) -> dict:
    from rasterio.io import MemoryFile
    with MemoryFile(body) as memory, memory.open() as ds:
        return _check_raster(ds, headers, extra_cell)


def check_file(path: Path, k: int, day: int, extra_cell: float) -> dict:
    import rasterio
    with rasterio.open(path) as ds:
        return _check_raster(ds, None, extra_cell, (k, day))


def _check_raster(ds, headers, extra_cell, level_day=None) -> dict:
    k, day = level_day or answered(headers)
    values = ds.read(1)
    t = ds.transform
    cols, rows = np.meshgrid(np.arange(ds.width) + 0.5, np.arange(ds.height) + 0.5)
    lon, lat = t.c + t.a * cols + t.b * rows, t.f + t.d * cols + t.e * rows
    result = check_grid(values, lon, lat, k, day, extra_cell)
    result['crs'] = ds.crs.to_string() if ds.crs else None
    return result


def check_covjson(document: dict, day: int) -> dict:
    """The built-in's CoverageJSON: values against level 0, in the order its domain declares and flipped."""
    axes = document['domain']['axes']
    ranges = document['ranges'][VARIABLE]
    shape = dict(zip(ranges['axisNames'], ranges['shape']))
    h, w = shape['y'], shape['x']
    values = np.array([np.nan if v is None else v for v in ranges['values']], dtype='float64')
    values = values.reshape(h, w).astype('float32')
    lon = np.linspace(axes['x']['start'], axes['x']['stop'], axes['x']['num'])
    lat = np.linspace(axes['y']['start'], axes['y']['stop'], axes['y']['num'])
    lon2, lat2 = np.meshgrid(lon, lat)
    declared = check_grid(values, lon2, lat2, 0, day)
    flipped = check_grid(values[::-1], lon2, lat2, 0, day)
    return {'declared': declared, 'flipped': flipped, 'y': (axes['y']['start'], axes['y']['stop']),
            'axisNames': ranges['axisNames']}


def gdal_block_cell(paths: list[str]) -> float:
    """The coarsest cell (degrees) of the blocks GDAL asked: subset width / scaleSize."""
    cells = []
    for path in paths:
        lon = re.search(r'Lon\(([-\d.e]+):([-\d.e]+)\)', requests.utils.unquote(path))
        size = re.search(r'scaleSize=Lon\((\d+)\)', requests.utils.unquote(path))
        if lon and size:
            cells.append((float(lon.group(2)) - float(lon.group(1))) / int(size.group(1)))
    return max(cells) if cells else 0.0


def block_chunks(moto: Moto, gdal: dict) -> dict:
    """The chunk objects each of GDAL's block requests touches at the level that answered it, summed."""
    total, blocks = 0, 0
    for path, level in gdal['replay']['by_path'].items():
        text = requests.utils.unquote(path)
        lon = re.search(r'Lon\(([-\d.e]+):([-\d.e]+)\)', text)
        lat = re.search(r'Lat\(([-\d.e]+):([-\d.e]+)\)', text)
        if lon and lat:
            k = int(re.search(r'level=(\d+)', level or 'level=0').group(1))
            bbox = (float(lon.group(1)), float(lat.group(1)), float(lon.group(2)), float(lat.group(2)))
            total += sum(moto.sizes[key] for key in level_chunk_keys(k, TIMES.size - 1, bbox))
            blocks += 1
    return {'blocks': blocks, 'block_chunk_bytes': total}


def bytes_check(moto: Moto, result: dict, k: int, day: int, bbox=None) -> dict:
    keys = level_chunk_keys(k, day, bbox)
    size = sum(moto.sizes[key] for key in keys)
    read = result['s3'][1]
    return {'level': k, 'chunks': len(keys), 'chunk_bytes': size, 'read': read, 'ratio': read / size,
            'ok': read <= 2 * size}


# --------------------------------------------------------------------------------------------- the runs

STEP = '2024-07-08T09:00:00Z'          # the latest step: the one a GeoTIFF of ours answers by default
OURS = {
    'globe': {'f': 'GeoTIFF', 'width': '1024', 'height': '512'},
    'subset': {'subset': 'Lat(40:42),Lon(10:12)', 'f': 'GeoTIFF'},
    'bbox': {'bbox': '10,40,12,42', 'f': 'GeoTIFF'},
}
NAIVE = STEP.rstrip('Z')                # the built-in fails on `...Z` (pandas: tz-aware label, naive index)
BUILTIN = {     # no scaling: the whole globe is the native 7200 x 3600 grid; one step (all 8 would be 207M values)
    'globe': {'datetime': f'{NAIVE}/{NAIVE}', 'f': 'json'},
    'subset': {'subset': 'lat(40:42),lon(10:12)', 'datetime': f'{NAIVE}/{NAIVE}', 'f': 'json'},
    'bbox': {'bbox': '10,40,12,42', 'datetime': f'{NAIVE}/{NAIVE}', 'f': 'json'},
}
BUILTIN_PROBES = {
    'f=GeoTIFF&width=1024&height=512': {'f': 'GeoTIFF', 'width': '1024', 'height': '512'},
    f'f=zarr&datetime={NAIVE}/{NAIVE} (its native format, whole grid)': {'datetime': f'{NAIVE}/{NAIVE}',
                                                                          'f': 'zarr'},
    f'bbox=10,40,12,42&datetime={STEP}/{STEP}&f=json (RFC 3339 with Z)': {'bbox': '10,40,12,42',
                                                                         'datetime': f'{STEP}/{STEP}', 'f': 'json'},
    f'bbox=10,40,12,42&datetime={NAIVE}&f=json (an instant)': {'bbox': '10,40,12,42', 'datetime': NAIVE,
                                                              'f': 'json'},
    f'subset=lat(40:40.2),lon(10:10.2)&scale-size=lon(100),lat(100)&datetime={NAIVE}/{NAIVE}&f=json': {
        'subset': 'lat(40:40.2),lon(10:10.2)', 'scale-size': 'lon(100),lat(100)',
        'datetime': f'{NAIVE}/{NAIVE}', 'f': 'json'},
}
# ours: the whole globe asked on exactly the grid of level k (cells of 0.05 * 2**k degree): which level answers
OURS_PROBES = {k: {'subset': 'Lat(-90:90),Lon(-180:180)', 'width': str(7200 >> k), 'height': str(3600 >> k),
                   'f': 'GeoTIFF'} for k in (2, 3, 4)}


def say(who: str, label: str, result: dict):
    if 'error' in result:
        print(f'  {who} {label}: ERROR {result["error"]}', flush=True)
    else:
        print(f'  {who} {label}: median {result["median"]:.1f} ms, p90 {result["p90"]:.1f} ms ({result["runs"]} runs), '
              f'{result.get("bytes")} bytes, S3 {result["s3"][0]} {result["s3"][1]:,} bytes', flush=True)


def run_ours(moto: Moto, args, work: Path) -> dict:
    proc, base = start_ours(moto, args.workers, work)
    out = {}
    try:
        with requests.Session() as session:
            url = f'{base}/collections/{COLLECTION}/coverage'
            for label, params in OURS.items():
                result = out[label] = measure(session, moto, url, params, args.warmup, args.runs, args.budget)
                if 'error' not in result:
                    response = result.pop('response')
                    result['headers'] = {k: v for k, v in response.headers.items()
                                         if k.startswith(('Kazarr', 'Content-Datetime', 'Content-Bbox'))}
                    result['check'] = check_geotiff(response.content, response.headers)
                    k, day = answered(response.headers)
                    bbox = [float(v) for v in response.headers['Content-Bbox'].split(',')]
                    result['chunks'] = bytes_check(moto, result, k, day, bbox)
                say('ours', label, result)
            out['probes'] = {}
            for k, params in OURS_PROBES.items():
                response = session.get(url, params=params, timeout=REQUEST_TIMEOUT)
                out['probes'][k] = (params, response.status_code, {
                    key: value for key, value in response.headers.items() if key.startswith('Kazarr')})
                print(f'  ours probe {params}: {out["probes"][k][1:]}', flush=True)
            gdal = out['gdal'] = measure_gdal(base, session, moto, work, args.gdal_runs)
            if 'error' not in gdal:
                level = max((int(m) for text in gdal['replay']['levels'] for m in re.findall(r'level=(\d+)', text)),
                            default=0)
                gdal['check'] = check_file(gdal.pop('out'), level, TIMES.size - 1, gdal_block_cell(gdal['requests']))
                gdal['chunks'] = bytes_check(moto, gdal, level, TIMES.size - 1)
                gdal['chunks'].update(block_chunks(moto, gdal))
            say('ours', 'gdal_translate', gdal)
    except BaseException:
        print(f'--- ours log ---\n{tail(work / "ours.log")}', file=sys.stderr)
        raise
    finally:
        stop_process(proc)
    return out


def run_builtin(moto: Moto, args, work: Path, data: str) -> tuple[dict, dict]:
    proc, base, log = start_builtin(moto, args.workers, work, data)
    out, probes = {}, {}
    try:
        with requests.Session() as session:
            url = f'{base}/collections/{COLLECTION}/coverage'
            for label, params in BUILTIN.items():
                runs = args.globe_runs if label == 'globe' else args.runs
                warmup = 1 if label == 'globe' else args.warmup
                result = out[label] = measure(session, moto, url, params, warmup, runs, args.budget, covjson=True)
                if 'error' not in result:
                    response = result.pop('response')
                    result['check'] = check_covjson(response.json(), TIMES.size - 1)
                    del response
                say('built-in', label, result)
            document = session.get(f'{base}/collections/{COLLECTION}', params={'f': 'json'}, timeout=60).json()
            probes['coverage links'] = ', '.join(
                f"`{link.get('type')}`" for link in document.get('links', [])
                if str(link.get('rel', '')).endswith('/coverage')) or 'no coverage link'
            for label, params in BUILTIN_PROBES.items():
                held = {}

                def send():
                    start = time.perf_counter()
                    held['response'] = session.get(url, params=params, timeout=REQUEST_TIMEOUT)
                    held['ms'] = (time.perf_counter() - start) * 1000.0
                counts, read = moto.record(send)
                response = held['response']
                text = f'HTTP {response.status_code}, {len(response.content):,} bytes, {held["ms"]:.0f} ms'
                if response.status_code != 200:
                    text += f': {response.text[:160]!r}'
                else:
                    text += f', {response.headers.get("Content-Type")}'
                    if 'json' in response.headers.get('Content-Type', ''):
                        ranges = response.json().get('ranges', {}).get(VARIABLE, {})
                        text += f', shape {dict(zip(ranges.get("axisNames", []), ranges.get("shape", [])))}'
                probes[label] = f'{text}; S3 {fmt_counts(counts)}, {read:,} bytes'
                print(f'  built-in probe {label}: {probes[label]}', flush=True)
            out['gdal'] = measure_gdal(base, session, moto, work, args.gdal_runs)
            say('built-in', 'gdal_translate', out['gdal'])
    except BaseException:
        print(f'--- built-in log ---\n{tail(log)}', file=sys.stderr)
        raise
    finally:
        stop_process(proc)
    return out, probes


# --------------------------------------------------------------------------------------------- the report

def fmt_counts(counts: dict) -> str:
    return ', '.join(f'{v} {k}' for k, v in counts.items() if v) or '0'


def mb(n) -> str:
    return '-' if n is None else f'{n / 1e6:.2f} MB' if n >= 1e5 else f'{n / 1e3:.1f} kB'


def report(ours: dict, builtin: dict, probes: dict, notes: dict, args) -> str:
    def times(r):
        return 'error' if 'error' in r else f"{r['median']:.1f} / {r['p90']:.1f}"

    def s3(r, i):
        if 'error' in r:
            return '-'
        return fmt_counts(r['s3'][0]) if i == 0 else f"{r['s3'][1]:,}"

    def ratio(o, b):
        return 'n/a' if 'error' in o or 'error' in b else f"{b['median'] / o['median']:.1f}x"

    def answer(r, kind):
        if 'error' in r:
            return 'error'
        shape = r['check']['shape'] if kind == 'tif' else None
        if kind == 'tif':
            return f"GeoTIFF {shape[1]}x{shape[0]}, {mb(r['bytes'])}"
        d = r['check']['declared']['shape']
        return f"CoverageJSON {d[1]}x{d[0]}, {mb(r['bytes'])}"

    og, bg = ours['gdal'], builtin['gdal']
    rows = [
        ('full extent: ours `f=GeoTIFF&width=1024&height=512`; built-in (no scaling) the whole native grid, '
         f'one step: `datetime={NAIVE}/{NAIVE}&f=json`', ours['globe'], builtin['globe']),
        ('2x2 deg: ours `subset=Lat(40:42),Lon(10:12)&f=GeoTIFF`; built-in `subset=lat(40:42),lon(10:12)'
         '&datetime=T/T&f=json`', ours['subset'], builtin['subset']),
        ('2x2 deg: ours `bbox=10,40,12,42&f=GeoTIFF`; built-in `bbox=10,40,12,42&datetime=T/T&f=json`',
         ours['bbox'], builtin['bbox']),
    ]
    lines = [
        '# OGC API Coverages on S3 (moto on loopback): kazarr_provider vs pygeoapi xarray coverage provider', '',
        f'- date: {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}; machine: nproc {os.cpu_count()}, '
        f'Python {sys.version.split()[0]}; kazarr_provider at {notes["commit"]}; 1-min load average '
        f'{notes["load"]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end (other work on the machine)',
        '- dataset: MUR-like `analysed_sst` float32, 8 daily steps, multiscale levels '
        + ', '.join(f'{k} ({h}x{w}, {level_cell(k):g} deg)' for k, (h, w) in enumerate(level_shapes()))
        + ', chunks (1, 600, 600) (one chunk for the last), Blosc-LZ4, Zarr v2 consolidated; '
        f'level 0 chunk objects {mb(notes["level0_step_bytes"])} per step',
        f'- ours reads `s3://{BUCKET}/{PREFIX}/{STORE}` (all levels); the built-in reads level 0 only, uploaded '
        f'again as `s3://{BUCKET}/{BUILTIN_PREFIX}/{BUILTIN_STORE}` (the same chunk objects) because it cannot '
        f'open the level group: {notes["level_group"]}',
        f'- servers: gunicorn, {args.workers} worker(s) each, one after the other; {args.warmup} warm-up '
        f'requests and {args.runs} timed runs per request (built-in full extent: 1 warm-up, {args.globe_runs} runs); '
        f'times are wall-clock ms per request with the body read; S3 requests and bytes from one more request '
        f'under moto\'s recorder. T = {NAIVE} (the built-in fails on the same instant written with Z, see below)',
        '',
        '| request | ours median / p90 (ms) | built-in median / p90 (ms) | built-in/ours | answer ours | '
        'answer built-in | S3 requests ours / built-in | S3 bytes ours / built-in | level (ours) |',
        '|---|---|---|---|---|---|---|---|---|',
    ]
    for label, o, b in rows:
        level = o.get('headers', {}).get('Kazarr-Level', 'none (level 0)') if 'error' not in o else '-'
        lines.append(f"| {label} | {times(o)} | {times(b)} | {ratio(o, b)} | {answer(o, 'tif')} | "
                     f"{answer(b, 'json')} | {s3(o, 0)} / {s3(b, 0)} | {s3(o, 1)} / {s3(b, 1)} | {level} |")
    gdal_level = ', '.join(og['replay']['levels']) if 'replay' in og else '-'
    lines.append(f"| `gdal_translate -outsize 1024 512 OGCAPI:.../collections/{COLLECTION} out.tif`, whole run "
                 f"({len(og.get('requests', []))} HTTP requests) | {times(og)} | {times(bg)} | {ratio(og, bg)} | "
                 f"GeoTIFF 1024x512 | {'error' if 'error' in bg else 'GeoTIFF 1024x512'} | {s3(og, 0)} / {s3(bg, 0)} | "
                 f"{s3(og, 1)} / {s3(bg, 1)} | {gdal_level} |")
    if 'replay' in og:
        r = og['replay']
        lines.append(f"| GDAL's {len(og['requests'])} requests replayed one after the other (ours) | "
                     f"{r['median']:.1f} / {r['p90']:.1f} | - | - | HTTP {r['statuses']} | - | - | - | "
                     f"{gdal_level} |")
    lines += ['', 'Notes:', '',
              '- full extent is not like for like: the built-in has no scaling (it ignores width, height and '
              'scale-size, see below) and no GeoTIFF, so the closest it answers is the whole native grid of one step '
              'in CoverageJSON; the ratio compares what each server answers to "the whole globe, one step".',
              '- the built-in opens the store again on every request (pygeoapi loads the provider per request): '
              'its S3 requests include the metadata GET/HEAD/LIST each time (see its 500 answers below, which read '
              'nothing else).',
              "- GDAL's block requests go out on up to 5 connections at once (MaxConnections 5); the replay sends "
              'them one after the other on one connection.']
    lines += ['', '## S3 bytes against the chunks of the level that answered (ours)', '',
              '| request | level | chunk objects of that level touched (step T) | their size | S3 bytes read | '
              'read / size | <= 2x |', '|---|---|---|---|---|---|---|']
    for label, r in (('full extent 1024x512', ours['globe']), ('subset 2x2 deg', ours['subset']),
                     ('bbox 2x2 deg', ours['bbox'])):
        if 'chunks' in r:
            c = r['chunks']
            lines.append(f"| {label} | {c['level']} | {c['chunks']} | {c['chunk_bytes']:,} | {c['read']:,} | "
                         f"{c['ratio']:.2f} | {'yes' if c['ok'] else '**no**'} |")
    if 'chunks' in og and og['chunks'].get('blocks'):
        c = og['chunks']
        per_block = c['read'] / c['block_chunk_bytes']
        lines.append(f"| gdal_translate: its {c['blocks']} block requests, each counted with the chunks its own box "
                     f"touches | {', '.join(og['replay']['levels'])} | {c['chunks']} distinct ({c['chunk_bytes']:,} "
                     f"bytes) | {c['block_chunk_bytes']:,} summed over the blocks | {c['read']:,} | {per_block:.2f} "
                     f"| {'yes' if per_block <= 2 else '**no**'} |")
    lines += ['', '## Level chosen by ours for the whole globe asked on exactly the grid of a level', '',
              '| request | status | Kazarr-Level | expected |', '|---|---|---|---|']
    for k, (params, status, headers) in ours.get('probes', {}).items():
        query = '&'.join(f'{key}={value}' for key, value in params.items())
        lines.append(f"| `{query}` | {status} | {headers.get('Kazarr-Level', '-')} | level={k} |")
    mismatch = any(f'level={k}' not in headers.get('Kazarr-Level', '')
                   for k, (_params, _status, headers) in ours.get('probes', {}).items())
    lines += ['', 'Expected: the level whose cells equal the output cells.' + ('' if not mismatch else
              ' The levels\' float32 coordinates put '
              'their mean spacing a few 1e-8 relative off the exact cell (for example (89.8 - -89.8 as float32) / 449 '
              '= 0.4000000136 at level 3); a level is taken when its cell is <= the output cell x (1 + 1e-9), so '
              'a level can lose to that noise and the next finer one (4x the chunk bytes) answers.')]
    lines += ['', '## Correctness (pixels against `sst(lon, lat, day)`)', '',
              'The field is symmetric in latitude, so only the 2x2 degree answers can tell the order of rows.', '',
              'Tolerance for an answer drawn from level k (cell c): (c/2) x (max |d sst/d lon| + max |d sst/d lat|)'
              ' + 0.001 K, the nearest level cell being at most half a cell away on each axis; for GDAL half its '
              'block cell is added (it resamples its own blocks). "exact" is the share of pixels equal, as '
              'float32, to the nearest cell of the level as written.', '',
              '| answer | level | shape | max error (K) | tolerance (K) | within | exact | NaN |',
              '|---|---|---|---|---|---|---|---|']

    def check_row(label, c):
        return (f"| {label} | {c['level']} | {c['shape'][1]}x{c['shape'][0]} | {c['max_error']:.2e} | "
                f"{c['tolerance']:.3f} | {'yes' if c['within'] else '**no**'} | {c['exact']:.4f} | {c['nan']} |")
    for label, r in (('ours full extent 1024x512', ours['globe']), ('ours subset 2x2', ours['subset']),
                     ('ours bbox 2x2', ours['bbox']), ('ours via gdal_translate', og)):
        if 'check' in r:
            lines.append(check_row(label, r['check']))
    for label, r in (('built-in whole grid', builtin['globe']), ('built-in subset 2x2', builtin['subset']),
                     ('built-in bbox 2x2', builtin['bbox'])):
        if 'check' in r:
            lines.append(check_row(f'{label}, rows as its domain declares (y {r["check"]["y"][0]:g} -> '
                                   f'{r["check"]["y"][1]:g})', r['check']['declared']))
            lines.append(check_row(f'{label}, rows flipped', r['check']['flipped']))
    lines += ['', '## Built-in: what else it answers (once each, untimed)', '',
              '- not sent: `bbox` (or `properties`) without `datetime` or `subset`: its provider applies the box '
              'only inside its subsetting branch, which `bbox` alone does not enter, so it would answer the whole '
              'grid, all 8 steps (207M values in CoverageJSON); nor the bare full extent (the same)']
    lines += [f'- `{label}`: {text}' for label, text in probes.items() if label != 'coverage links']
    lines.append(f"- GDAL on the built-in: {bg.get('error', 'opened')}. GDAL's OGCAPI driver takes the coverage API "
                 "only from a link `rel=http://www.opengis.net/def/rel/ogc/1.0/coverage` of type `image/tiff; "
                 "application=geotiff`, `application/x-geotiff` or no type; the built-in's collection offers: "
                 + probes.get('coverage links', '?'))
    lines += ['', '## GDAL\'s requests to ours (captured with CPL_CURL_VERBOSE=YES)', '']
    lines += [f'- `{path}`' for path in og.get('requests', [])]
    errors = [f'- {who} {label}: {r["error"]}' for who, side in (('ours', ours), ('built-in', builtin))
              for label, r in side.items() if 'error' in r]
    if errors:
        lines += ['', 'Errors:', ''] + errors
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', type=Path, default=REPO / 'bench' / 'data')
    parser.add_argument('--results', type=Path, default=REPO / 'bench' / 'results' / 'coverage-latest.md')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--runs', type=int, default=20)
    parser.add_argument('--globe-runs', type=int, default=3, help="timed runs of the built-in's whole-grid answer")
    parser.add_argument('--gdal-runs', type=int, default=10)
    parser.add_argument('--budget', type=float, default=300.0, help='max seconds of timed runs per request')
    args = parser.parse_args(argv)
    import importlib.util
    if importlib.util.find_spec('s3fs') is None:
        raise SystemExit("pygeoapi's xarray provider needs fsspec and s3fs: pip install -e '.[bench]'")
    store = args.data / STORE
    print(f'store {store}', flush=True)
    make_pyramid(store)
    commit = subprocess.run(['git', 'describe', '--always', '--dirty'], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    load = os.getloadavg()[0]
    moto = Moto()
    with tempfile.TemporaryDirectory(prefix='coverage-bench-') as tmp:
        work = Path(tmp)
        try:
            moto.start(work)
            print('uploading ...', flush=True)
            moto.upload(store, f'{PREFIX}/{STORE}')
            data = upload_level0(moto, store)
            notes = {'commit': commit, 'load': load,
                     'level_group': builtin_open_error(moto, f's3://{BUCKET}/{PREFIX}/{STORE}/0') or 'it opens',
                     'level0_step_bytes': sum(moto.sizes[k] for k in level_chunk_keys(0, TIMES.size - 1))}
            print(f'  built-in on the level group: {notes["level_group"]}', flush=True)
            ours = run_ours(moto, args, work)
            builtin, probes = run_builtin(moto, args, work, data)
        finally:
            moto.stop()
    text = report(ours, builtin, probes, notes, args)
    write_results(text, args.results)
    print(text)
    print(f'written to {args.results}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
