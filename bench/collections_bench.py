"""/collections/{id} on a store with 200 000 time steps vs one with 10, in the same run.

Collection documents are computed once per catalogue snapshot; a request serves them. Target (issue 9):
the long axis costs at most 3x the short one per request. Also reports the document sizes and the time
to build the snapshot (where the per-collection work now happens).

    .venv/bin/python bench/collections_bench.py [--steps 200000] [--repeat 200]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import xarray as xr


def write_store(path: str, steps: int):
    times = pd.date_range('1940-01-01', periods=steps, freq='h')
    lat = np.array([40.0, 41.0])
    lon = np.array([10.0, 11.0])
    values = np.zeros((steps, 2, 2), dtype='float32')
    ds = xr.Dataset({'t2m': (('time', 'lat', 'lon'), values, {'units': 'K', 'standard_name': 'air_temperature'})},
                    coords={'time': times, 'lat': ('lat', lat, {'units': 'degrees_north', 'standard_name': 'latitude'}),
                            'lon': ('lon', lon, {'units': 'degrees_east', 'standard_name': 'longitude'})})
    ds.to_zarr(path, mode='w', encoding={'t2m': {'chunks': (min(steps, 8760), 2, 2)}}, consolidated=True)


def timed(client, path: str, repeat: int) -> tuple[float, int]:
    samples = []
    size = 0
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
        size = len(response.data)
    return statistics.median(samples), size


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=200_000)
    parser.add_argument('--repeat', type=int, default=200)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix='collections-bench-')
    write_store(os.path.join(root, 'short.zarr'), 10)
    write_store(os.path.join(root, 'long.zarr'), args.steps)
    os.environ.update(DATASETS_PATH=root, KAZARR_STATE_DIR=os.path.join(root, 'state'),
                      KAZARR_CONFIG=os.path.join(root, 'absent.yml'), CATALOGUE_REFRESH_SECONDS='3600')
    from kazarr_provider.server.app import create_app
    started = time.perf_counter()
    app = create_app()
    built = time.perf_counter() - started
    client = app.test_client()
    short, short_size = timed(client, '/collections/short', args.repeat)
    long, long_size = timed(client, '/collections/long', args.repeat)
    listing, listing_size = timed(client, '/collections', args.repeat // 4 or 1)
    print(f'| store | median per request | document |\n|---|---|---|\n'
          f'| 10 steps | {short * 1000:.2f} ms | {short_size:,} B |\n'
          f'| {args.steps:,} steps | {long * 1000:.2f} ms | {long_size:,} B |\n'
          f'| /collections (both) | {listing * 1000:.2f} ms | {listing_size:,} B |\n\n'
          f'ratio long/short: {long / short:.2f} (target <= 3); app and first snapshot built in {built:.1f} s')
    return 0 if long <= 3 * short else 1


if __name__ == '__main__':
    sys.exit(main())
