"""Conversion throughput: a ~1 GB NetCDF-4 file to GeoZarr, MB/s of input and the converter's peak memory.

    .venv/bin/python bench/convert_bench.py [--gb 1.0] [--keep]

The input (bench/data/convert_input.nc, git-ignored, made once and reused) is a global 0.1 degree
float32 field (1800 x 3600 cells, 25.9 MB a step) over as many 6-hourly steps as make the size
asked, written step by step so that generating it is memory-bounded too. Each variant runs
`kazarr-provider convert` in a child process: its wall time, its CPU time (user + system: steadier
than wall time when other work shares the 2 cores; the load average is printed with each run), and
its peak resident memory from
the child's own rusage (`os.wait4`, the `getrusage` of that child). The
converter never loads a whole variable: the peak stays far below the input's size.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / 'bench' / 'data'
NY, NX = 1800, 3600


def field(lat, lon, hours):
    return (280.0 + 25.0 * np.cos(np.radians(lat)) + 5.0 * np.sin(np.radians(lon * 3)) * np.cos(np.radians(lat))
            + 0.1 * hours).astype('float32')


def make_input(path: Path, steps: int):
    import netCDF4
    if path.exists():
        with netCDF4.Dataset(path) as ds:
            if ds.dimensions['time'].size == steps:
                return
    tmp = path.with_suffix('.tmp.nc')
    lat = 89.95 - 0.1 * np.arange(NY)
    lon = -179.95 + 0.1 * np.arange(NX)
    LON, LAT = np.meshgrid(lon, lat)
    with netCDF4.Dataset(tmp, 'w', format='NETCDF4') as ds:
        ds.title = 'convert benchmark input'
        ds.createDimension('time', None)
        ds.createDimension('lat', NY)
        ds.createDimension('lon', NX)
        t = ds.createVariable('time', 'f8', ('time',))
        t.units, t.calendar, t.standard_name = 'hours since 2024-01-01 00:00:00', 'standard', 'time'
        y = ds.createVariable('lat', 'f4', ('lat',))          # float32 coordinates, as many products have
        y.units, y.standard_name = 'degrees_north', 'latitude'
        x = ds.createVariable('lon', 'f4', ('lon',))
        x.units, x.standard_name = 'degrees_east', 'longitude'
        y[:], x[:] = lat, lon
        v = ds.createVariable('tas', 'f4', ('time', 'lat', 'lon'), fill_value=np.float32(1e20),
                              chunksizes=(1, NY, NX))
        v.units, v.standard_name = 'K', 'air_temperature'
        for k in range(steps):
            t[k] = 6.0 * k
            v[k] = field(LAT, LON, 6.0 * k)
    os.replace(tmp, path)


def run(args: list[str]) -> dict:
    """Wall time and peak RSS of one `kazarr-provider` child (its own rusage, from wait4)."""
    import tempfile
    with tempfile.TemporaryFile('w+') as out, tempfile.TemporaryFile('w+') as err:
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, '-m', 'kazarr_provider', *args], cwd=ROOT, stdout=out, stderr=err,
                                text=True, env={**os.environ, 'LOG_LEVEL': 'WARNING'})
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise SystemExit(f'{args} failed ({proc.returncode}):\n{err.read()[-2000:]}')
        return {'seconds': seconds, 'cpu': usage.ru_utime + usage.ru_stime, 'peak_mb': usage.ru_maxrss / 1024.0,
                'out': out.read().strip()}


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob('*') if p.is_file())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--gb', type=float, default=1.0, help='input size (default 1.0 GB)')
    parser.add_argument('--keep', action='store_true', help='keep the output stores')
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    steps = max(1, int(round(args.gb * 1e9 / (NY * NX * 4))))
    source = DATA / 'convert_input.nc'
    started = time.monotonic()
    make_input(source, steps)
    size = source.stat().st_size
    print(f'input {source.name}: {size / 1e6:.0f} MB, {steps} steps of {NY} x {NX} float32 '
          f'(made or checked in {time.monotonic() - started:.0f} s)')
    variants = [('default (v3, 256 x 256 x 4 chunks, Blosc zstd, pyramid)', []),
                ('--shard (v3, 1024 x 1024 shards)', ['--shard']),
                ('--pack (int16)', ['--pack']),
                ('--zarr-format 2', ['--zarr-format', '2']),
                ('--no-pyramid', ['--no-pyramid'])]
    rows = []
    for label, extra in variants:
        out = DATA / 'convert_output.zarr'
        shutil.rmtree(out, ignore_errors=True)
        result = run(['convert', str(source), str(out), '-q', *extra])
        written = size_of(out)
        load = os.getloadavg()[0]
        rows.append((label, result['seconds'], size / 1e6 / result['seconds'], result['cpu'],
                     size / 1e6 / result['cpu'], result['peak_mb'], written / 1e6, load))
        print(f'{label}: {result["seconds"]:.1f} s, {size / 1e6 / result["seconds"]:.0f} MB/s of input, '
              f'{result["cpu"]:.1f} CPU s, peak RSS {result["peak_mb"]:.0f} MB, output {written / 1e6:.0f} MB, '
              f'load average {load:.1f}\n  {result["out"]}', flush=True)
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    print('\n| variant | wall s | MB/s of input | CPU s | MB per CPU s | peak RSS (MB) | output (MB) | load avg |\n'
          '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for label, seconds, rate, cpu, per_cpu, peak, written, load in rows:
        print(f'| {label} | {seconds:.1f} | {rate:.0f} | {cpu:.1f} | {per_cpu:.0f} | {peak:.0f} | {written:.0f} | '
              f'{load:.1f} |')


if __name__ == '__main__':
    main()
