#!/usr/bin/env python3.11
"""The production topology on one machine, without Docker: what docker-compose.yml runs, as processes.

    moto_server (S3, the demo datasets uploaded) · PostgreSQL (the job store) · a Dask scheduler with two
    worker processes · two kazarr-provider servers (2 gunicorn workers each, separate state directories)

Every process binds 127.0.0.1 on a free port and is stopped by process group at the end.

    .venv/bin/python bench/topology.py              # start it and wait (Ctrl-C stops it): `make topology`
    .venv/bin/python bench/topology.py --session    # start it, run the scripted session, stop; exit 0 if it passed

The scripted session: both servers list the same collections; EDR and Coverages answers from one and the
other equal the analytic fields; a job submitted on the first is followed and fetched on the second; a
store uploaded to S3 appears on both after POST /catalogue/refresh (with the operator token); the first
server is killed mid-job and the job still succeeds, fetched from the second.
"""
from __future__ import annotations

import argparse
import glob
import io
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BUCKET = 'kazarr'
KEYS = {'AWS_ACCESS_KEY_ID': 'topology', 'AWS_SECRET_ACCESS_KEY': 'topology-secret',
        'AWS_DEFAULT_REGION': 'us-east-1'}
TOKEN = 'topology-refresh-token'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_until(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except (requests.RequestException, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f'timed out waiting for {what}')
        time.sleep(0.2)


def stop_group(proc: subprocess.Popen, sig=signal.SIGTERM, grace: float = 10):
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=grace)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def postgres_bin() -> str | None:
    """The newest Debian PostgreSQL's bin directory, None when none is installed."""
    found = glob.glob('/usr/lib/postgresql/*/bin/initdb')
    return os.path.dirname(max(found, key=lambda p: int(re.search(r'/(\d+)/bin', p).group(1)))) if found else None


class Postgres:
    """A throwaway PostgreSQL: its own data directory, a free port on 127.0.0.1, trust authentication."""

    def __init__(self, bindir: str | None = None):
        self.bindir = bindir or postgres_bin()
        if self.bindir is None:
            raise RuntimeError('PostgreSQL is not installed: apt-get install postgresql')
        self.base = Path(tempfile.mkdtemp(prefix='kz-pg-'))       # the postgres user must reach it
        self.port = free_port()
        self._databases = 0
        self.as_postgres = os.geteuid() == 0               # initdb refuses root
        if self.as_postgres:
            entry = pwd.getpwnam('postgres')
            os.chown(self.base, entry.pw_uid, entry.pw_gid)

    def _run(self, *args):
        command = [os.path.join(self.bindir, args[0]), *args[1:]]
        if self.as_postgres:
            command = ['runuser', '-u', 'postgres', '--', *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if result.returncode:
            raise RuntimeError(f'{args[0]} failed: {result.stdout}{result.stderr}')

    def start(self) -> 'Postgres':
        data = self.base / 'data'
        self._run('initdb', '-D', str(data), '-A', 'trust', '-U', 'kz', '-E', 'UTF8', '--no-sync')
        self._run('pg_ctl', '-D', str(data), '-o', f'-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 '
                  '-c fsync=off -c max_connections=200', '-l', str(self.base / 'log'), '-w', 'start')
        return self

    def url(self, database: str = 'postgres') -> str:
        return f'postgresql://kz@127.0.0.1:{self.port}/{database}'

    def new_database(self) -> str:
        """A fresh, empty database (tests: one per test); its URL."""
        import psycopg
        self._databases += 1
        name = f'jobs_{self._databases}'
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE {name}')
        return self.url(name)

    def stop(self):
        try:
            self._run('pg_ctl', '-D', str(self.base / 'data'), '-m', 'immediate', '-w', 'stop')
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


class Topology:
    def __init__(self, work: Path, servers: int = 2, dask_workers: int = 2):
        self.work = work
        self.names = [chr(ord('a') + k) for k in range(servers)]
        self.dask_workers = dask_workers
        self.procs: dict[str, subprocess.Popen] = {}
        self.urls: dict[str, str] = {}
        self.postgres: Postgres | None = None
        self.s3_url = ''
        self.env: dict[str, str] = {}

    # ---- processes ----------------------------------------------------------------------------------
    def _spawn(self, name: str, command: list[str], env: dict, cwd: Path = REPO) -> subprocess.Popen:
        log = open(self.work / f'{name}.log', 'wb')
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[name] = proc
        return proc

    def s3(self):
        import boto3
        return boto3.client('s3', endpoint_url=self.s3_url, region_name='us-east-1',
                            aws_access_key_id=KEYS['AWS_ACCESS_KEY_ID'],
                            aws_secret_access_key=KEYS['AWS_SECRET_ACCESS_KEY'])

    def upload(self, local: Path, prefix: str):
        client = self.s3()
        for path in local.rglob('*'):
            if path.is_file():
                client.put_object(Bucket=BUCKET, Key=f'{prefix}/{path.relative_to(local).as_posix()}',
                                  Body=path.read_bytes())

    def start(self) -> 'Topology':
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(('AWS_', 'PYGEOAPI_'))}
        port = free_port()
        self.s3_url = f'http://127.0.0.1:{port}'
        self._spawn('moto', [str(BIN / 'moto_server'), '-H', '127.0.0.1', '-p', str(port)], base_env, self.work)
        wait_until(lambda: requests.get(f'{self.s3_url}/moto-api/', timeout=2).ok, 30, 'moto')
        self.s3().create_bucket(Bucket=BUCKET)
        data = self.work / 'data'
        subprocess.run([str(BIN / 'kazarr-provider'), 'demo-data', str(data)], check=True, cwd=REPO,
                       stdout=subprocess.DEVNULL)
        self.upload(data, 'datasets')
        self.postgres = Postgres().start()
        self.env = {**base_env, **KEYS, 'AWS_ENDPOINT_URL': self.s3_url, 'BUCKET_NAME': BUCKET,
                    'DATASETS_PATH': 'datasets', 'JOBS_DATABASE_URL': self.postgres.url(),
                    'RESULTS_URL': f's3://{BUCKET}/results', 'REFRESH_TOKEN': TOKEN,
                    'CATALOGUE_REFRESH_SECONDS': '3600', 'JOB_HEARTBEAT_SECONDS': '1', 'JOB_STALE_SECONDS': '10'}
        dask_port = free_port()
        address = f'tcp://127.0.0.1:{dask_port}'
        self._spawn('dask-scheduler', [str(BIN / 'dask'), 'scheduler', '--host', '127.0.0.1', '--port',
                                       str(dask_port), '--no-dashboard'], self.env, self.work)
        for k in range(self.dask_workers):
            self._spawn(f'dask-worker-{k + 1}', [str(BIN / 'dask'), 'worker', address, '--nworkers', '1',
                                                 '--nthreads', '1', '--host', '127.0.0.1', '--no-dashboard',
                                                 '--memory-limit', '0'], self.env, self.work)
        self.env['DASK_SCHEDULER_ADDRESS'] = address
        for name in self.names:
            self.start_server(name)
        return self

    def start_server(self, name: str):
        port = free_port()
        state = self.work / f'state-{name}'
        state.mkdir(exist_ok=True)
        env = {**self.env, 'PORT': str(port), 'HOSTNAME': '127.0.0.1', 'KAZARR_STATE_DIR': str(state),
               'PUBLIC_URL': f'http://127.0.0.1:{port}'}
        proc = self._spawn(f'server-{name}', [str(BIN / 'kazarr-provider'), 'serve', '--workers', '2'], env)
        self.urls[name] = f'http://127.0.0.1:{port}'

        def healthy():
            if proc.poll() is not None:
                raise RuntimeError(f'server {name} exited: see {self.work}/server-{name}.log')
            return requests.get(f'{self.urls[name]}/health', timeout=2).ok
        wait_until(healthy, 90, f'server {name}')

    def kill(self, name: str):
        stop_group(self.procs[f'server-{name}'], signal.SIGKILL)

    def stop(self):
        for name, proc in reversed(list(self.procs.items())):
            stop_group(proc, grace=0 if name.startswith('dask') else 10)
        if self.postgres:
            self.postgres.stop()


# ---- the scripted session ---------------------------------------------------------------------------

def _collections(url: str) -> set[str]:
    return {c['id'] for c in requests.get(f'{url}/collections', params={'f': 'json'}, timeout=30)
            .json()['collections']}


def _execute(url: str, process: str, inputs: dict, prefer: str | None = None) -> requests.Response:
    return requests.post(f'{url}/processes/{process}/execution', json={'inputs': inputs}, timeout=120,
                         headers={'Prefer': prefer} if prefer else {})


def _wait_job(url: str, job_id: str, seconds: float = 120) -> dict:
    status = {}

    def done():
        status.update(requests.get(f'{url}/jobs/{job_id}', timeout=30).json())
        return status['status'] not in ('accepted', 'running')
    wait_until(done, seconds, f'job {job_id}')
    return status


def session(topology: Topology, say=print) -> None:
    """Raises AssertionError at the first step that fails."""
    from kazarr_provider import demo
    a, b = (topology.urls[n] for n in topology.names[:2])
    found_a, found_b = _collections(a), _collections(b)
    assert found_a == found_b and {'sst_med', 'era5.pressure_levels'} <= found_a, (found_a, found_b)
    say(f'1. both servers list the same {len(found_a)} collections')

    point = {'coords': 'POINT(10 45)', 'parameter-name': 't', 'z': '850', 'datetime': '2024-01-01T06:00:00Z'}
    for url in (a, b):
        doc = requests.get(f'{url}/collections/era5.pressure_levels/position', params=point, timeout=30).json()
        value = doc['ranges']['t']['values'][0]
        expected = float(np.float32(demo.era5_temperature(10.0, 45.0, 850.0, 6.0)))
        assert abs(value - expected) < 1e-3, (url, value, expected)
        tif = requests.get(f'{url}/collections/sst_med/coverage', params={
            'subset': 'Lat(40:42),Lon(4:6)', 'f': 'GeoTIFF'}, timeout=30)      # open sea, native cells
        assert tif.status_code == 200, tif.text
        import rasterio
        with rasterio.open(io.BytesIO(tif.content)) as dataset:
            band = dataset.read(1).astype('float64')
            rows, cols = np.indices(band.shape)
            lon, lat = (np.reshape(v, band.shape) for v in dataset.xy(rows.ravel(), cols.ravel()))
        # the latest of three daily steps (day 2); the store packs SST in steps of 0.001
        assert np.allclose(band, demo.sst(lon, lat, 2.0), atol=6e-4), url
    say('2. EDR and Coverages answer the formula on both servers')

    inputs = {'collection': 'era5.pressure_levels', 'parameter': 't', 'levels': [260, 280],
              'bbox': [-20, 30, 40, 70]}
    submitted = _execute(a, 'isolines', inputs, 'respond-async')
    assert submitted.status_code == 201, submitted.text
    job = submitted.json()['jobID']
    status = _wait_job(b, job)
    assert status['status'] == 'successful', status
    assert requests.get(f'{b}/jobs/{job}/results', timeout=30).json() == _execute(b, 'isolines', inputs).json()
    say(f'3. job {job} submitted on A, followed and fetched on B')

    extra = topology.work / 'extra'
    demo.make_polynomial(str(extra / 'poly.zarr'))
    topology.upload(extra, 'datasets/new')
    for url in (a, b):
        refused = requests.post(f'{url}/catalogue/refresh', timeout=60)
        assert refused.status_code == 401, refused.status_code
        assert requests.post(f'{url}/catalogue/refresh', headers={'Authorization': f'Bearer {TOKEN}'},
                             timeout=60).status_code == 200
    for url in (a, b):
        wait_until(lambda: 'new.poly' in _collections(url), 30, 'the new store')
    say('4. a store uploaded to S3 appears on both after an authorised refresh')

    slow = {'collection': 'era5.pressure_levels', 'parameter': ['t', 'u'], 'bbox': [-180, -90, 180, 90],
            'size': [720, 360], 'method': 'cubic'}
    submitted = _execute(a, 'regrid', slow, 'respond-async')
    assert submitted.status_code == 201, submitted.text
    job = submitted.json()['jobID']
    topology.kill(topology.names[0])
    status = _wait_job(b, job, 180)
    assert status['status'] == 'successful', status
    results = requests.get(f'{b}/jobs/{job}/results', timeout=60)
    assert results.status_code == 200 and results.json()['domain']['domainType'] == 'Grid'
    say(f'5. server A killed right after accepting job {job}; Dask finished it, fetched from B')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--session', action='store_true', help='run the scripted session, then stop')
    parser.add_argument('--work', help='working directory (default: a temporary one)')
    args = parser.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix='kazarr-topology-'))
    work.mkdir(parents=True, exist_ok=True)
    topology = Topology(work)
    try:
        topology.start()
        print(f'S3 (moto) {topology.s3_url}, PostgreSQL {topology.postgres.url()}, '
              f'Dask {topology.env["DASK_SCHEDULER_ADDRESS"]}')
        for name, url in topology.urls.items():
            print(f'server {name}: {url}')
        print(f'logs in {work}')
        if args.session:
            session(topology)
            print('session passed')
            return 0
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    except AssertionError as failure:
        print(f'session FAILED: {failure!r} (logs in {work})', file=sys.stderr)
        return 1
    finally:
        topology.stop()


if __name__ == '__main__':
    sys.exit(main())
