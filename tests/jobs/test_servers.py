"""Jobs that survive and scale (issue 11), end to end through real server processes on loopback.

- two servers sharing one SQLite job store and results directory: a job submitted on one is followed,
  listed and fetched on the other; a pool process of one killed mid-job, the reaper fails the job (never
  left running); a job running on one dismissed on the other stays dismissed and leaves no result behind;
- two servers on PostgreSQL, results on S3 (moto) and a Dask cluster of its own processes: the server
  that accepted a job is killed at once, the other still serves its result.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from conftest import BUCKET, free_port, start_server      # the root conftest of the tests

ERA5 = 'era5.pressure_levels'
EXCEPTION = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/'
ISOLINES = {'collection': ERA5, 'parameter': 't', 'levels': [260.0, 275.0, 290.0], 'bbox': [-10, 30, 30, 60]}
# a few seconds of cubic interpolation in the executor (the lattice between its progress 10 and 80)
SLOW_REGRID = {'collection': ERA5, 'parameter': 't', 'bbox': [-180, -90, 180, 90], 'size': [1000, 500],
               'method': 'cubic'}
SMALL_REGRID = {'collection': ERA5, 'parameter': 't', 'bbox': [0, 40, 10, 50], 'size': [4, 4]}
BIN = Path(sys.executable).parent


# -- helpers ------------------------------------------------------------------------------------------------

def execute(base: str, process: str, inputs: dict, prefer: str | None = None) -> requests.Response:
    headers = {'Prefer': prefer} if prefer else {}
    return requests.post(f'{base}/processes/{process}/execution', json={'inputs': inputs}, headers=headers,
                         timeout=120)


def submit(base: str, process: str, inputs: dict) -> str:
    response = execute(base, process, inputs, prefer='respond-async')
    assert response.status_code == 201, response.text
    job_id = response.json()['jobID']
    assert response.headers['Location'].endswith(f'/jobs/{job_id}')
    return job_id


def status(base: str, job_id: str) -> dict:
    response = requests.get(f'{base}/jobs/{job_id}', timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def wait_for(base: str, job_id: str, done, seconds: float, what: str) -> dict:
    """Poll the job on `base` until `done(status)`; the last status seen (fails the test on timeout)."""
    deadline = time.monotonic() + seconds
    seen = []
    while True:
        info = status(base, job_id)
        if not seen or seen[-1] != (info['status'], info.get('progress')):
            seen.append((info['status'], info.get('progress')))
        if done(info):
            return info
        if time.monotonic() > deadline:
            raise AssertionError(f'job {job_id} not {what} after {seconds} s; statuses seen: {seen}')
        time.sleep(0.1)


def finished(info):
    return info['status'] not in ('accepted', 'running')


def kill_group(proc: subprocess.Popen, sig=signal.SIGKILL):
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def stop(*procs: subprocess.Popen, grace: float = 5):
    """SIGTERM to each process group (none with grace=0), SIGKILL to what lingers after `grace` seconds
    (and to children left by a leader that is gone); reaps the leaders."""
    if grace:
        for proc in procs:
            if proc.poll() is None:
                kill_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
    for proc in procs:
        kill_group(proc, signal.SIGKILL)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


@contextmanager
def servers(tmp: Path, names: list[str], env: dict, explicit: str, backend: str, datasets: Path, moto=None):
    """Servers started side by side (own KAZARR_STATE_DIR each), all stopped on the way out."""
    started = []

    def one(name):
        state = tmp / f'state-{name}'
        state.mkdir(parents=True, exist_ok=True)
        handle = start_server(state, env, explicit, backend, datasets, moto)
        started.append(handle)
        return handle
    try:
        with ThreadPoolExecutor(len(names)) as pool:
            handles = list(pool.map(one, names))
        yield handles
    finally:
        stop(*[handle.proc for handle in started])


def children(pid: int) -> dict[int, int]:
    """{pid: parent pid} of every process."""
    table = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as file:
                    text = file.read()
            except OSError:
                continue
            table[int(entry)] = int(text.rsplit(')', 1)[1].split()[1])
    return table


def descendants(pid: int) -> set[int]:
    table = children(pid)
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in table.items() if parent in frontier} - found
        found |= frontier
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as file:
            return file.read().replace(b'\0', b' ').decode(errors='replace')
    except OSError:
        return ''


def pool_workers(server_pid: int) -> set[int]:
    """The 'spawn'ed pool processes under a server (not the resource tracker, not the web workers)."""
    return {p for p in descendants(server_pid)
            if 'spawn_main' in cmdline(p) and 'resource_tracker' not in cmdline(p)}


def local_env(datasets_dir: Path, **extra) -> dict:
    return {'DATASETS_PATH': str(datasets_dir), 'BUCKET_NAME': '', 'JOB_WORKERS': '1', **extra}


# -- two servers sharing one SQLite job store and results directory ----------------------------------------

@pytest.fixture(scope='module')
def pair(datasets_dir, explicit_store, tmp_path_factory):
    """Servers a and b: own KAZARR_STATE_DIR each, one JOBS_STATE_DIR (SQLite store, results directory);
    one pool process each, a heartbeat every 0.5 s, a job silent for 3 s failed by the reaper."""
    tmp = tmp_path_factory.mktemp('pair')
    env = local_env(datasets_dir, JOBS_STATE_DIR=str(tmp / 'jobs'), JOB_HEARTBEAT_SECONDS='0.5',
                    JOB_STALE_SECONDS='3')
    with servers(tmp, ['a', 'b'], env, str(explicit_store), 'local', datasets_dir) as (a, b):
        a.tmp = b.tmp = tmp
        a.jobs_dir = b.jobs_dir = tmp / 'jobs'
        yield a, b


def test_a_job_accepted_by_one_server_is_served_by_another(pair):
    a, b = pair
    job_id = submit(a.url, 'isolines', ISOLINES)
    info = wait_for(b.url, job_id, finished, 40, 'finished')
    assert info['status'] == 'successful', info
    assert info['progress'] == 100 and info['started'] <= info['finished']
    assert info['processID'] == 'isolines'
    results = requests.get(f'{b.url}/jobs/{job_id}/results', timeout=30)
    assert results.status_code == 200 and results.headers['Content-Type'] == 'application/geo+json'
    synchronous = execute(b.url, 'isolines', ISOLINES)
    assert synchronous.status_code == 200, synchronous.text
    assert results.json() == synchronous.json()
    assert [f['properties']['level'] for f in results.json()['features']] == ISOLINES['levels']
    listed = requests.get(f'{b.url}/jobs', timeout=30).json()['jobs']
    assert job_id in [job['jobID'] for job in listed]
    # the shared store and results directory, not either server's own state directory
    assert (a.jobs_dir / 'jobs.sqlite3').is_file() and (a.jobs_dir / 'results' / job_id).is_dir()
    assert not (a.tmp / 'state-a' / 'jobs').exists() and not (a.tmp / 'state-b' / 'jobs').exists()


def running_past(percent):
    def test(info):
        assert info['status'] in ('accepted', 'running'), info
        return info['status'] == 'running' and info.get('progress', 0) >= percent
    return test


def test_a_killed_pool_worker_fails_its_job(pair):
    a, b = pair
    job_id = submit(a.url, 'regrid', SLOW_REGRID)
    wait_for(b.url, job_id, running_past(10), 60, 'running')      # in the lattice's interpolation
    from kazarr_provider.jobs import open_store
    with open_store(f'sqlite:///{a.jobs_dir}/jobs.sqlite3') as store:
        executor = store.get(job_id).executor
    worker = int(executor.rsplit(':', 1)[1])
    workers = pool_workers(a.proc.pid)
    assert worker in workers, (executor, workers)                 # a pool process of a, not its web worker
    os.kill(worker, signal.SIGKILL)
    killed = time.monotonic()
    info = wait_for(b.url, job_id, finished, 20, 'failed by the reaper')
    assert info['status'] == 'failed', info
    assert time.monotonic() - killed >= 2.5                         # not before it went stale (3 s)
    assert 'heartbeat' in info['message'], info
    assert info['finished'] and 'results' not in [link['title'] for link in info['links']]
    for server in (a, b):
        results = requests.get(f'{server.url}/jobs/{job_id}/results', timeout=30)
        assert results.headers['Content-Type'] == 'application/problem+json'
        problem = results.json()
        assert results.status_code == problem['status'] == 500, problem
        assert 'heartbeat' in problem['detail'], problem
    time.sleep(1)
    assert status(a.url, job_id)['status'] == 'failed'             # and it stays so
    # a's pool comes back for the next job
    again = submit(a.url, 'regrid', SMALL_REGRID)
    assert wait_for(a.url, again, finished, 60, 'finished')['status'] == 'successful'


def test_a_dismissed_running_job_stays_dismissed(pair):
    a, b = pair
    results_dir = b.jobs_dir / 'results'
    job_id = submit(b.url, 'regrid', SLOW_REGRID)                  # runs in b's pool ...
    wait_for(b.url, job_id, running_past(10), 60, 'running')
    dismissed = requests.delete(f'{a.url}/jobs/{job_id}', timeout=30)   # ... dismissed on a
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()['status'] == 'dismissed' and dismissed.json()['jobID'] == job_id
    # one pool process: a job queued on b now starts once the dismissed computation has ended
    after = submit(b.url, 'regrid', SMALL_REGRID)
    assert wait_for(b.url, after, finished, 60, 'finished')['status'] == 'successful'
    for server in (a, b):
        info = status(server.url, job_id)
        assert info['status'] == 'dismissed', info
        assert 'results' not in [link['title'] for link in info['links']]
        gone = requests.get(f'{server.url}/jobs/{job_id}/results', timeout=30)
        assert gone.status_code == 404 and gone.json()['type'] == EXCEPTION + 'no-such-job', gone.text
        assert gone.headers['Content-Type'] == 'application/problem+json'
    assert not [p.name for p in results_dir.iterdir() if job_id in p.name]
    assert (results_dir / after).is_dir()


# -- PostgreSQL, results on S3, a Dask cluster: the accepting server killed ---------------------------------

@contextmanager
def dask_cluster(env: dict, workers: int = 2):
    """`dask scheduler` on loopback and `dask worker`s, each in a session of its own, with `env`."""
    port = free_port()
    address = f'tcp://127.0.0.1:{port}'
    procs = []
    common = dict(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                  cwd=tempfile.gettempdir())
    try:
        procs.append(subprocess.Popen([str(BIN / 'dask'), 'scheduler', '--host', '127.0.0.1', '--port', str(port),
                                       '--no-dashboard'], **common))
        for _ in range(workers):
            procs.append(subprocess.Popen([str(BIN / 'dask'), 'worker', address, '--nworkers', '1',
                                           '--nthreads', '1', '--host', '127.0.0.1', '--no-dashboard',
                                           '--no-nanny', '--memory-limit', '0'], **common))
        yield address
    finally:
        stop(*procs, grace=0)                       # nothing of theirs to keep


def wait_for_workers(address: str, workers: int):
    from distributed import Client
    deadline = time.monotonic() + 60
    while True:
        try:
            client = Client(address, timeout=5, set_as_default=False)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    try:
        client.wait_for_workers(workers, timeout=60)
    finally:
        client.close()


def test_a_job_outlives_the_server_that_accepted_it(postgres, jobs_moto, datasets_dir, explicit_store, tmp_path):
    prefix = f'job-results-{tmp_path.name}'
    database = postgres.new_database()
    s3 = {'AWS_ENDPOINT_URL': jobs_moto.url, 'RESULTS_URL': f's3://{BUCKET}/{prefix}'}
    # the Dask workers write the results on S3 and reach the database: the servers' S3 environment
    with dask_cluster({**os.environ, **s3}) as address:
        env = local_env(datasets_dir, JOBS_DATABASE_URL=database, DASK_SCHEDULER_ADDRESS=address, **s3)
        # the servers start while the cluster does (their Dask client connects at the first job)
        with servers(tmp_path, ['a', 'b'], env, str(explicit_store), 'local', datasets_dir) as (a, b):
            wait_for_workers(address, 2)
            job_id = submit(a.url, 'isolines', ISOLINES)
            kill_group(a.proc)                          # right after the 201: the accepting server is gone
            a.proc.wait(timeout=10)
            info = wait_for(b.url, job_id, finished, 40, 'finished')
            assert info['status'] == 'successful', info
            assert info['progress'] == 100 and info['started'] <= info['finished']
            results = requests.get(f'{b.url}/jobs/{job_id}/results', timeout=30)
            assert results.status_code == 200 and results.headers['Content-Type'] == 'application/geo+json'
            synchronous = execute(b.url, 'isolines', ISOLINES)
            assert synchronous.status_code == 200, synchronous.text
            assert results.json() == synchronous.json()
            listed = requests.get(f'{b.url}/jobs', params={'processID': 'isolines'}, timeout=30).json()['jobs']
            assert job_id in [job['jobID'] for job in listed]
            # stored on S3 under the prefix, run by a Dask worker, recorded in PostgreSQL
            keys = [o['Key'] for o in jobs_moto.client().list_objects_v2(
                Bucket=BUCKET, Prefix=f'{prefix}/{job_id}/').get('Contents', [])]
            assert keys == [f'{prefix}/{job_id}/isolines'], keys
            from kazarr_provider.jobs import open_store
            with open_store(database) as store:
                record = store.get(job_id)
            assert record.status == 'successful' and record.executor.startswith('dask tcp://127.0.0.1:'), record
