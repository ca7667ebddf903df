#!/usr/bin/env python3.11
"""Load and faults on the one-machine topology (bench/topology.py): 8 clients on a mix of EDR, Coverages
and process requests across both servers, with two faults in the middle:

* S3 unreachable for 30 s (the moto process is stopped with SIGSTOP, then resumed): answers during the
  outage should be 503 with a reason, and everything should recover without a restart;
* one Dask worker killed while a job runs: the job completes or fails with a reason, never stays running.

Reported: throughput, p50/p99 latency per kind, status counts (5xx other than the outage's 503s must be
zero), and the servers' resident memory (gunicorn workers) after warm-up and at the end.

    .venv/bin/python bench/load_bench.py [--minutes 10] [--clients 8] [--outage 30]
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from topology import Topology  # noqa: E402

RESULTS = Path(__file__).resolve().parent / 'results' / 'load-latest.md'

REQUESTS = [       # (kind, method, path, params or JSON body, weight)
    ('edr position', 'GET', '/collections/era5.pressure_levels/position',
     lambda r: {'coords': f'POINT({r.uniform(-180, 180):.2f} {r.uniform(-80, 80):.2f})', 'parameter-name': 't'}, 5),
    ('edr cube', 'GET', '/collections/sst_med/cube',
     lambda r: {'bbox': f'{(x := r.uniform(-5, 30)):.2f},{(y := r.uniform(31, 44)):.2f},{x + 3:.2f},{y + 2:.2f}'}, 3),
    ('coverage geotiff', 'GET', '/collections/sst_med/coverage',
     lambda r: {'subset': f'Lat({(y := r.uniform(31, 43)):.1f}:{y + 2:.1f}),Lon({(x := r.uniform(-5, 30)):.1f}:'
                          f'{x + 4:.1f})', 'width': '128', 'height': '64'}, 3),
    ('process isolines', 'POST', '/processes/isolines/execution',
     lambda r: {'inputs': {'collection': 'era5.pressure_levels', 'parameter': 't', 'levels': {'step': 10},
                           'bbox': [(x := r.uniform(-180, 120)), -60, x + 60, 60]}}, 1),
    ('process regrid', 'POST', '/processes/regrid/execution',
     lambda r: {'inputs': {'collection': 'sst_med', 'bbox': [0, 35, 10, 42], 'size': [100, 70],
                           'method': r.choice(['nearest', 'linear', 'cubic'])}}, 1),
]


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f'/proc/{pid}/status').read_text().splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def worker_pids(root: int) -> list[int]:
    """The gunicorn workers under a server's process (children of the master)."""
    out = []
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / 'stat').read_text().rsplit(')', 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == root:
                out.append(int(entry.name))
    return out


class Load:
    def __init__(self, urls: list[str], clients: int):
        self.urls = urls
        self.clients = clients
        self.stop = threading.Event()
        self.records: list[tuple[float, str, int, float]] = []     # (start, kind, status, seconds)
        self.lock = threading.Lock()
        kinds, weights = zip(*[(r, r[-1]) for r in REQUESTS])
        self.kinds, self.weights = kinds, weights

    def client(self, seed: int):
        rng = random.Random(seed)
        session = requests.Session()
        while not self.stop.is_set():
            kind, method, path, make, _ = rng.choices(self.kinds, self.weights)[0]
            url = rng.choice(self.urls) + path
            started = time.monotonic()
            try:
                if method == 'GET':
                    response = session.get(url, params=make(rng), timeout=60)
                else:
                    response = session.post(url, json=make(rng), timeout=60)
                status = response.status_code
            except requests.RequestException:
                status = 0
            with self.lock:
                self.records.append((started, kind, status, time.monotonic() - started))

    def run(self, seconds: float):
        threads = [threading.Thread(target=self.client, args=(k,), daemon=True) for k in range(self.clients)]
        for thread in threads:
            thread.start()
        self.stop.wait(seconds)
        self.stop.set()
        for thread in threads:
            thread.join(70)


def dask_fault(topology: Topology, url: str) -> str:
    """Kill one Dask worker while a job runs on it; the job must end successful or failed with a reason."""
    body = {'inputs': {'collection': 'era5.pressure_levels', 'parameter': ['t', 'u'], 'bbox': [-180, -90, 180, 90],
                       'size': [720, 360], 'method': 'cubic'}}
    job = requests.post(f'{url}/processes/regrid/execution', json=body, headers={'Prefer': 'respond-async'},
                        timeout=60).json()['jobID']
    deadline = time.monotonic() + 60
    while requests.get(f'{url}/jobs/{job}', timeout=30).json()['status'] == 'accepted' and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(topology.procs['dask-worker-1'].pid, signal.SIGKILL)
    deadline = time.monotonic() + 240
    status = {}
    while time.monotonic() < deadline:
        status = requests.get(f'{url}/jobs/{job}', timeout=30).json()
        if status['status'] not in ('accepted', 'running'):
            break
        time.sleep(1)
    return f'job {job}: {status.get("status")} ({status.get("message")})'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--minutes', type=float, default=10)
    parser.add_argument('--clients', type=int, default=8)
    parser.add_argument('--outage', type=float, default=30)
    parser.add_argument('--warmup', type=float, default=60, help='seconds of load before memory is first read')
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix='kazarr-load-'))
    topology = Topology(work)
    os.environ['S3_TIMEOUT_SECONDS'] = '3'
    try:
        topology.start()
        urls = list(topology.urls.values())
        warm = Load(urls, args.clients)
        warm.run(args.warmup)
        servers = [topology.procs[f'server-{n}'].pid for n in topology.names]
        before = {pid: rss_kib(pid) for root in servers for pid in worker_pids(root)}
        load = Load(urls, args.clients)
        total = args.minutes * 60
        thread = threading.Thread(target=load.run, args=(total,))
        started = time.monotonic()
        thread.start()
        samples = []          # (seconds, {pid: KiB}): is any growth a trend or a plateau?
        sampler = threading.Thread(target=_sample, args=(list(before), started, total, samples), daemon=True)
        sampler.start()
        time.sleep(total / 2 - args.outage / 2)
        moto = topology.procs['moto']
        outage = (time.monotonic() - started, None)
        os.kill(moto.pid, signal.SIGSTOP)
        time.sleep(args.outage)
        os.kill(moto.pid, signal.SIGCONT)
        outage = (outage[0], time.monotonic() - started)
        dask = dask_fault(topology, urls[1])
        thread.join()
        after = {pid: rss_kib(pid) for pid in before}
        report = summarise(load.records, started, outage, before, after, dask, args, samples)
        RESULTS.write_text(report)
        print(report)
        return 0
    finally:
        topology.stop()


def _sample(pids, started, total, samples, every: float = 60.0):
    while time.monotonic() - started < total:
        time.sleep(every)
        samples.append((time.monotonic() - started, {pid: rss_kib(pid) for pid in pids}))


def summarise(records, started, outage, before, after, dask, args, samples=()) -> str:
    lo, hi = outage
    by_kind = defaultdict(list)
    statuses = Counter()
    outside_5xx, during = Counter(), Counter()
    recovery = None
    for start, kind, status, seconds in records:
        at = start - started
        by_kind[kind].append(seconds)
        statuses[status] += 1
        if at <= hi and at + seconds >= lo:       # in flight while S3 was unreachable
            during[status] += 1
        elif status >= 500 or status == 0:
            outside_5xx[status] += 1
        if at > hi and status == 200 and recovery is None:
            recovery = at - hi
    duration = max(r[0] for r in records) - started if records else 0
    lines = [f'# Load and faults — bench/load_bench.py ({time.strftime("%Y-%m-%d %H:%M")})', '',
             f'{args.clients} clients, {args.minutes:g} min (after {args.warmup:g} s of warm-up) on both servers of '
             f'bench/topology.py; '
             f'{len(records)} requests, {len(records) / max(duration, 1):.1f} requests/s overall.', '',
             '| kind | requests | p50 (ms) | p99 (ms) |', '|---|---|---|---|']
    for kind, times in sorted(by_kind.items()):
        times = sorted(times)
        lines.append(f'| {kind} | {len(times)} | {statistics.median(times) * 1000:.1f} | '
                     f'{times[min(len(times) - 1, int(len(times) * 0.99))] * 1000:.1f} |')
    lines += ['', f'Statuses: {dict(sorted(statuses.items()))}.',
              f'Outside the S3 outage: 5xx or failed connections {dict(outside_5xx) or "none"}.',
              f'S3 unreachable from {lo:.0f} s to {hi:.0f} s: statuses of the requests in flight meanwhile '
              f'{dict(sorted(during.items()))}; first 200 after it {recovery:.1f} s after the end.'
              if recovery is not None else 'no success after the outage',
              f'Dask worker killed during a job: {dask}.', '',
              '| gunicorn worker | RSS after warm-up (MiB) | RSS at the end (MiB) | growth |', '|---|---|---|---|']
    for pid, kib in before.items():
        end = after.get(pid, 0)
        lines.append(f'| {pid} | {kib / 1024:.0f} | {end / 1024:.0f} | '
                     f'{(end - kib) / kib * 100 if kib and end else float("nan"):+.1f} % |')
    if samples:
        lines += ['', 'RSS (MiB) each minute of the timed load: ' + '; '.join(
            f'{pid}: ' + ' '.join(f'{sample[pid] / 1024:.0f}' for _, sample in samples) for pid in before) + '.']
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    sys.exit(main())
