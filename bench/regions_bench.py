#!/usr/bin/env python3.11
"""Time many-centre `radius` and many-vertex `area` queries in process, on the demo `sst_med` store.

Two timings per case, no HTTP:

* select: a `Query` built directly and `core.select.dispatch.select` alone -- the work the server's
  limits exist to bound, measured past those limits (100 000 centres / vertices);
* core: the same, then `to_covjson.build` (one coverage per radius centre);
* service: the whole path -- parse, select, build -- through `api.service.coverage_document`, as the
  routes and the pygeoapi adapter call it; '413' when the declared work limits refuse the request.

Centres are uniform random (seed 0) over the store's extent; polygons are a wavy ring of N vertices
(N - 1 distinct, closed) round (15E, 38N). Radius: 10 km.

    .venv/bin/python bench/regions_bench.py [--data /tmp/kazarr-demo] [--runs 5] [--profile radius-10000]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import shapely.wkt                                             # noqa: E402

from kazarr_provider.api.service import coverage_document    # noqa: E402
from kazarr_provider.core.query import Query                  # noqa: E402
from kazarr_provider.core.select.dispatch import select       # noqa: E402
from kazarr_provider.data.catalogue import get_dataset       # noqa: E402
from kazarr_provider.demo import write_demo_data              # noqa: E402
from kazarr_provider.errors import TooLarge                   # noqa: E402
from kazarr_provider.formats import to_covjson                # noqa: E402

MAX_VALUES = 2_000_000


def centres(n: int) -> str:
    rng = np.random.default_rng(0)
    lon = rng.uniform(-5.9, 35.9, n)
    lat = rng.uniform(30.1, 45.9, n)
    return 'MULTIPOINT(' + ','.join(f'({x:.5f} {y:.5f})' for x, y in zip(lon, lat)) + ')'


def polygon(n: int) -> str:
    theta = np.linspace(0.0, 2.0 * np.pi, n - 1, endpoint=False)
    r = 5.0 + 0.6 * np.sin(37.0 * theta)
    lon, lat = 15.0 + 1.3 * r * np.cos(theta), 38.0 + 0.8 * r * np.sin(theta)
    ring = ','.join(f'{x:.6f} {y:.6f}' for x, y in zip(lon, lat))
    return f'POLYGON(({ring},{lon[0]:.6f} {lat[0]:.6f}))'


CASES = {
    'radius-10000': ('radius', lambda: {'coords': centres(10_000), 'within': '10', 'within-units': 'km'}),
    'radius-100000': ('radius', lambda: {'coords': centres(100_000), 'within': '10', 'within-units': 'km'}),
    'area-10000': ('area', lambda: {'coords': polygon(10_000)}),
    'area-100000': ('area', lambda: {'coords': polygon(100_000)}),
}


def values_in(document: dict) -> int:
    coverages = document.get('coverages', [document])
    return sum(int(np.prod(r['shape'])) if 'shape' in r else len(r['values'])
               for c in coverages for r in c['ranges'].values())


def core_query(query_type: str, params: dict) -> Query:
    geometry = shapely.wkt.loads(params['coords'])
    if query_type == 'radius':
        return Query(kind='radius', points=shapely.get_coordinates(geometry), multi=True,
                     within_m=float(params['within']) * 1000.0)
    return Query(kind='area', polygon=geometry)


def selection(opened, query: Query):
    return select(opened.ds, opened.model, query, MAX_VALUES)


def core(opened, query: Query) -> dict:
    return to_covjson.build(selection(opened, query), opened.model, query.multi)


def timed(run, runs: int, warmup: bool = True):
    document = run() if warmup else None
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        document = run()
        times.append(time.perf_counter() - start)
    return document, times


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', default=None, help='demo data directory (written if absent)')
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--cases', default=','.join(CASES))
    parser.add_argument('--paths', default='select,core,service', help='which timings (comma-separated)')
    parser.add_argument('--no-warmup', action='store_true', help='skip the untimed first run (slow cases)')
    parser.add_argument('--profile', default=None, help='a case to run once (core path) under cProfile instead')
    args = parser.parse_args()
    data = Path(args.data or tempfile.mkdtemp(prefix='kazarr-regions-'))
    write_demo_data(data)
    opened = get_dataset(str(data / 'sst_med.zarr'))
    if args.profile:
        import cProfile
        import pstats
        query_type, make = CASES[args.profile]
        query = core_query(query_type, make())
        cProfile.runctx('core(opened, query)', globals(), locals(), '/tmp/regions.prof')
        pstats.Stats('/tmp/regions.prof').sort_stats('cumulative').print_stats(30)
        return
    print('| query | select median / min (s) | core median / min (s) | service median / min (s) | coverages | values |')
    print('|---|---|---|---|---|---|')
    for name in args.cases.split(','):
        query_type, make = CASES[name]
        params = make()
        query = core_query(query_type, params)
        document, select_text, core_text, service_text = None, '-', '-', '-'
        counts = None
        if 'select' in args.paths:
            selected, times = timed(lambda: selection(opened, query), args.runs, not args.no_warmup)
            select_text = f'{statistics.median(times):.3f} / {min(times):.3f}'
            counts = len(selected), sum(a.size for block in selected for a in block.values.values())
            del selected
        if 'core' in args.paths:
            document, times = timed(lambda: core(opened, query), args.runs, not args.no_warmup)
            core_text = f'{statistics.median(times):.3f} / {min(times):.3f}'
        if 'service' in args.paths:
            try:
                document, times = timed(lambda: coverage_document(opened, query_type, params, MAX_VALUES),
                                        args.runs, not args.no_warmup)
                service_text = f'{statistics.median(times):.3f} / {min(times):.3f}'
            except TooLarge:
                service_text = '413 (work limit)'
        if document is not None:
            counts = len(document.get('coverages', [document])), values_in(document)
        print(f'| {name} | {select_text} | {core_text} | {service_text} | '
              f'{counts[0]:,} | {counts[1]:,} |', flush=True)


if __name__ == '__main__':
    main()
