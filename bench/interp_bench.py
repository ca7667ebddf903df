"""Spatial interpolation cost per method, in process (no HTTP server).

Writes the demo polynomial store (a regional 1 degree grid, 61 x 41 cells) into a temporary directory, opens
it as the server does (`data.catalogue.get_dataset`) and answers position queries with a MULTIPOINT of
random points inside the grid, for each interpolation method:

- **service**: `api.service.coverage_document` -- what EDR position runs, from the parameters to the
  CoverageJSON document (WKT parsing, selection, document building);
- **selector**: `core.select.dispatch.select` on the already parsed query -- the reads and the interpolation
  alone;
- **interpolation**: `core.interpolate.Neighbourhood` + `combine` on the cells' values already in memory --
  the interpolation step alone (what `core/select/points.py` calls once the cells are read).

The lattice case (default 400 x 400 = 160 000 points) is over the server's limit of points in one MULTIPOINT
(10 000): it is timed on the selector only, with the query of the 2 000-point case given the lattice's points.

Prints a markdown table of medians (ms) over `--runs` timed runs after one warm-up run, each also as a
multiple of linear's.

    .venv/bin/python bench/interp_bench.py [--runs 5] [--points 2000] [--lattice 400] [--lattice-runs N]
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kazarr_provider import demo  # noqa: E402
from kazarr_provider.api.edr.parse import parse_query  # noqa: E402
from kazarr_provider.api.service import coverage_document  # noqa: E402
from kazarr_provider.core.interpolate import Neighbourhood, combine, neighbourhood_size  # noqa: E402
from kazarr_provider.core.select.dispatch import select  # noqa: E402
from kazarr_provider.data.catalogue import get_dataset  # noqa: E402

MAX_VALUES = 10_000_000
METHODS = [('nearest', ''), ('linear', ''), ('cubic', ''), ('idw', 'power:2'),
           ('rbf', 'kernel:thin_plate_spline,neighbors:16')]


def multipoint(lon: np.ndarray, lat: np.ndarray) -> str:
    return 'MULTIPOINT(' + ','.join(f'({x:.6f} {y:.6f})' for x, y in zip(lon, lat)) + ')'


def median_ms(call, runs: int) -> float:
    call()                                                   # warm-up: opens, caches, imports
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def interpolation_only(opened, query, runs: int) -> float | None:
    """Median ms of the neighbourhood and the method over the points, the cells' values given."""
    method = query.interpolation.spatial
    if method == 'nearest':
        return None
    model, params = opened.model, query.interpolation.params
    field = opened.ds['cubic'].values.astype('float64')                  # (lat, lon), storage order
    lon, lat = np.asarray(query.points[:, 0], float), np.asarray(query.points[:, 1], float)

    def run():
        half_x, half_y = neighbourhood_size(method, params, model, lat)
        hood = Neighbourhood(model, *model.native(lon, lat), half_x, half_y)
        return combine(method, params, hood, np.where(hood.valid, field[hood.iy, hood.ix], np.nan))
    return median_ms(run, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--points', type=int, default=2000)
    parser.add_argument('--lattice', type=int, default=400, help='side of the lattice for the large cubic run')
    parser.add_argument('--lattice-runs', type=int, default=None,
                        help='timed runs of the lattice case (default: --runs; 1 when it takes minutes)')
    args = parser.parse_args()

    rng = np.random.default_rng(20261202)
    # the grid covers lon -30..30, lat -20..20: keep every 4x4 / rbf neighbourhood inside it
    lon = rng.uniform(-27.5, 27.5, args.points)
    lat = rng.uniform(-17.5, 17.5, args.points)
    side = args.lattice
    grid_lon, grid_lat = np.meshgrid(np.linspace(-27.5, 27.5, side), np.linspace(-17.5, 17.5, side))

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / 'polynomial.zarr'
        demo.make_polynomial(str(store))
        opened = get_dataset(str(store))
        cases = [(f'{method} ({args.points:,} points)', method, extra, None, args.runs) for method, extra in METHODS]
        cases.append((f'cubic ({side}x{side} = {side * side:,} points)', 'cubic', '',
                      np.column_stack([grid_lon.ravel(), grid_lat.ravel()]), args.lattice_runs or args.runs))
        rows = []
        for label, method, extra, lattice, runs in cases:
            params = {'coords': multipoint(lon, lat), 'interpolation': method, 'parameter-name': 'cubic'}
            if extra:
                params['interpolation-params'] = extra
            query = parse_query('position', params, opened.model)
            if lattice is None:
                service = median_ms(lambda: coverage_document(opened, 'position', params, MAX_VALUES), runs)
            else:
                service = None
                query = dataclasses.replace(query, points=lattice)
            selector = median_ms(lambda: select(opened.ds, opened.model, query, MAX_VALUES), runs)
            alone = interpolation_only(opened, query, runs)
            rows.append((label, service, selector, alone))
            print(f'{label}: service {service or 0:.1f} ms, selector {selector:.1f} ms, interpolation '
                  f'{alone or 0:.1f} ms', file=sys.stderr, flush=True)

    linear = next(row[1:] for row in rows if row[0].startswith('linear'))

    def cell(value, base):
        return ('—', '—') if value is None else (f'{value:.1f}', f'{value / base:.1f}x')
    print('| method | service (ms) | / linear | selector (ms) | / linear | interpolation (ms) | / linear |')
    print('|---|---|---|---|---|---|---|')
    for label, *times in rows:
        cells = [c for value, base in zip(times, linear) for c in cell(value, base)]
        print(f'| {label} | ' + ' | '.join(cells) + ' |')

if __name__ == '__main__':
    main()
