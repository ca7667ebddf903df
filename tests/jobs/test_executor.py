"""Executors running real computations in other processes: the embedded pool, a Dask cluster, S3 results."""
from __future__ import annotations

import os
import signal
import time
import uuid

import pytest

from conftest import BUCKET, SECRET_KEY
from kazarr_provider.errors import NotFound
from kazarr_provider.jobs import FINISHED, JobRecord, JobSettings, executor, open_store, start_reaper, submit, task_spec
from kazarr_provider.jobs.settings import sqlite_url

HEARTBEAT = 0.2
STALE = 1.5


def make_settings(root, **changes) -> JobSettings:
    values = dict(state_dir=str(root), database_url=sqlite_url(os.path.join(root, 'jobs.sqlite3')),
                  results_url=os.path.join(root, 'results'), workers=2, heartbeat_seconds=HEARTBEAT,
                  stale_seconds=STALE, queue_timeout_seconds=60)
    values.update(changes)
    return JobSettings(**values)


def new_job(store, process_id='test') -> str:
    job_id = uuid.uuid4().hex
    store.create(JobRecord(job_id, process_id))
    return job_id


def wait_for(store, job_id, predicate, seconds=20.0, what='the job'):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        record = store.get(job_id)
        if record is not None and predicate(record):
            return record
        time.sleep(0.05)
    raise AssertionError(f'timed out waiting for {what}: {store.get(job_id)}')


def finished(record):
    return record.status in FINISHED


def executor_pid(record) -> int:
    return int(record.executor.rsplit(':', 1)[1])


pytestmark = pytest.mark.usefixtures('tasks_importable')


@pytest.fixture(scope='module')
def local(tmp_path_factory, tasks_importable):
    """One pool (2 spawned processes) for the module's tests, as a web worker would have."""
    settings = make_settings(tmp_path_factory.mktemp('jobs-local'))
    store = open_store(settings)
    yield settings, store
    executor.get_executor(settings).shutdown()
    store.close()


def test_the_pool_runs_a_job_outside_the_request(local):
    settings, store = local
    job_id = new_job(store, 'squares')
    submit(job_id, task_spec('jobs.tasks:squares', {'n': 5}), settings)
    record = wait_for(store, job_id, finished)
    assert record.status == 'successful', record
    assert (record.progress, record.error) == (100, None)
    assert executor_pid(record) != os.getpid()
    assert record.started <= record.finished
    assert record.result == {'text': {'media_type': 'text/plain', 'key': f'{job_id}/text'},
                             'raw': {'media_type': 'application/octet-stream', 'key': f'{job_id}/raw'}}
    assert store.results.read(record.result['text']['key']) == b'0,1,4,9,16'
    assert store.results.read(record.result['raw']['key']) == bytes([0, 1, 4, 9, 16])


def test_a_failing_computation_fails_the_job_with_its_reason(local):
    settings, store = local
    invalid, crash, missing = new_job(store), new_job(store), new_job(store)
    submit(invalid, task_spec('jobs.tasks:invalid', {'x': -1}), settings)
    submit(crash, task_spec('jobs.tasks:crash'), settings)
    submit(missing, task_spec('jobs.no_such_module:run'), settings)

    record = wait_for(store, invalid, finished)
    assert record.status == 'failed'
    assert record.error == {'status': 400, 'type': 'InvalidParameterValue', 'title': 'Invalid parameter value',
                            'detail': 'x must be positive, got -1'}
    assert record.message == 'x must be positive, got -1' and record.progress == 10

    record = wait_for(store, crash, finished)
    assert record.status == 'failed' and record.error['status'] == 500
    assert record.error['detail'] == 'RuntimeError: could not sign with ***'     # first line, redacted
    assert SECRET_KEY not in str(record) and 'Traceback' not in str(record)

    record = wait_for(store, missing, finished)
    assert record.status == 'failed' and record.error['detail'].startswith('ModuleNotFoundError')
    assert record.result is None and not os.path.exists(os.path.join(settings.results_url, crash))


def test_a_dismissed_running_job_stops_and_leaves_no_result(local, tmp_path):
    settings, store = local
    marker = tmp_path / 'ended'
    job_id = new_job(store)
    submit(job_id, task_spec('jobs.tasks:slow', {'seconds': 30, 'marker': str(marker)}), settings)
    wait_for(store, job_id, lambda r: r.status == 'running' and r.progress > 0, what='progress')
    dismissed_at = time.monotonic()
    assert store.dismiss(job_id).status == 'dismissed'
    deadline = time.monotonic() + 5
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.read_text() == 'Dismissed'                  # it stopped at its next progress call
    assert time.monotonic() - dismissed_at < 2
    time.sleep(0.2)
    record = store.get(job_id)
    assert record.status == 'dismissed' and record.result is None
    assert not os.path.exists(os.path.join(settings.results_url, job_id))
    # the pool took the next job: nothing left running there
    after = new_job(store)
    submit(after, task_spec('jobs.tasks:squares', {'n': 2}), settings)
    assert wait_for(store, after, finished, seconds=10).status == 'successful'


def test_a_killed_pool_worker_is_reaped_and_queued_jobs_run_again(local):
    settings, store = local
    first, second, queued = new_job(store), new_job(store), new_job(store)
    submit(first, task_spec('jobs.tasks:slow', {'seconds': 30}), settings)
    submit(second, task_spec('jobs.tasks:slow', {'seconds': 30}), settings)
    running = [wait_for(store, j, lambda r: r.status == 'running', what='running') for j in (first, second)]
    submit(queued, task_spec('jobs.tasks:squares', {'n': 3}), settings)       # both workers busy: it waits
    time.sleep(0.3)
    assert store.get(queued).status == 'accepted'

    os.kill(executor_pid(running[0]), signal.SIGKILL)
    reaper = start_reaper(store, interval=0.2, stale_seconds=STALE, queue_timeout=60, expiry=7 * 86400)
    try:
        assert start_reaper(store) is reaper                  # one per process
        record = wait_for(store, first, finished, seconds=STALE + 5, what='the reaper')
        assert record.status == 'failed'
        assert record.message.startswith('the executor stopped responding (no heartbeat for ')
        assert record.error['status'] == 500
        # the pool broke with it (its other process went too): never left running
        assert wait_for(store, second, finished, seconds=STALE + 5).status in ('failed', 'successful')
        # the queued job never started: it ran on a new pool
        assert wait_for(store, queued, finished, seconds=15).status == 'successful'
    finally:
        reaper.stop()
    assert not reaper.is_alive()


def test_results_on_s3_end_to_end(s3_endpoint, tmp_path):
    settings = make_settings(tmp_path, results_url=f's3://{BUCKET}/job-results', workers=1)
    store = open_store(settings)
    try:
        job_id = new_job(store, 'squares')
        submit(job_id, task_spec('jobs.tasks:squares', {'n': 4}), settings)
        record = wait_for(store, job_id, finished)
        assert record.status == 'successful', record
        assert store.results.read(record.result['text']['key']) == b'0,1,4,9'
        keys = sorted(o['Key'] for o in s3_endpoint.client().list_objects_v2(
            Bucket=BUCKET, Prefix=f'job-results/{job_id}/')['Contents'])
        assert keys == [f'job-results/{job_id}/raw', f'job-results/{job_id}/text']
        assert store.expire(0) == [job_id]                    # an expired job takes its results with it
        assert s3_endpoint.client().list_objects_v2(Bucket=BUCKET, Prefix=f'job-results/{job_id}/')['KeyCount'] == 0
        with pytest.raises(NotFound):
            store.results.open(record.result['text']['key'])
    finally:
        executor.get_executor(settings).shutdown()
        store.close()


def test_jobs_on_a_dask_cluster(tmp_path):
    from distributed import LocalCluster
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host='127.0.0.1',
                      dashboard_address=None, worker_dashboard_address=None) as cluster:
        settings = make_settings(tmp_path, dask_scheduler_address=cluster.scheduler_address)
        store = open_store(settings)
        try:
            job_id = new_job(store, 'squares')
            submit(job_id, task_spec('jobs.tasks:squares', {'n': 6}), settings)
            record = wait_for(store, job_id, finished)
            assert record.status == 'successful', record
            assert record.executor.startswith('dask tcp://127.0.0.1:')
            assert store.results.read(record.result['text']['key']) == b'0,1,4,9,16,25'

            # its worker killed mid-job: the job ends (failed by the reaper, or completed), never left running
            slow = new_job(store)
            submit(slow, task_spec('jobs.tasks:slow', {'seconds': 30}), settings)
            running = wait_for(store, slow, lambda r: r.status == 'running', what='running')
            os.kill(executor_pid(running), signal.SIGKILL)
            time.sleep(STALE)
            deadline = time.monotonic() + 10
            while store.get(slow).status == 'running' and time.monotonic() < deadline:
                store.reap(STALE)
                time.sleep(0.2)
            record = store.get(slow)
            assert record.status in ('failed', 'successful')
            if record.status == 'failed':
                assert 'no heartbeat' in record.message
        finally:
            executor.get_executor(settings).shutdown()
            store.close()
