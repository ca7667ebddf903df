"""The job store: one suite, run on SQLite and on a real PostgreSQL."""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from kazarr_provider.errors import NotFound
from kazarr_provider.jobs import JobRecord, open_store

NOW = dt.datetime.now(dt.timezone.utc)


def ago(**delta) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) - dt.timedelta(**delta)


def test_lifecycle_accepted_running_successful(store, results):
    created = store.create(JobRecord('job-1', 'squares', inputs={'n': 3}, options={'response': 'document'}))
    record = store.get('job-1')
    assert record == created
    assert (record.status, record.progress, record.started, record.finished) == ('accepted', 0, None, None)
    assert record.created.tzinfo == dt.timezone.utc and record.updated == record.created
    assert record.inputs == {'n': 3} and record.options == {'response': 'document'}
    assert store.get('nope') is None
    with pytest.raises(ValueError):
        store.create(JobRecord('job-1', 'squares'))

    assert store.mark_running('job-1', 'host:123')
    assert not store.mark_running('job-1', 'host:456')          # taken: exactly one executor runs a job
    running = store.get('job-1')
    assert (running.status, running.executor) == ('running', 'host:123')
    assert running.started >= running.created and running.heartbeat == running.started

    seen = []
    for percent in (10, 40, 90):
        time.sleep(0.01)
        assert store.progress('job-1', percent, f'{percent} %') == 'running'
        seen.append(store.get('job-1'))
    assert [r.progress for r in seen] == [10, 40, 90]
    assert seen[-1].message == '90 %'
    assert seen[0].heartbeat < seen[1].heartbeat < seen[2].heartbeat
    assert seen[0].updated < seen[2].updated
    beat_before = seen[-1]
    time.sleep(0.01)
    assert store.progress('job-1') == 'running'                 # a heartbeat: status info unchanged
    after = store.get('job-1')
    assert after.heartbeat > beat_before.heartbeat
    assert (after.progress, after.message, after.updated) == (90, '90 %', beat_before.updated)

    key = results.put('job-1', 'text', b'0,1,4')
    assert store.finish('job-1', 'successful', result={'text': {'media_type': 'text/plain', 'key': key}})
    done = store.get('job-1')
    assert (done.status, done.progress, done.message) == ('successful', 100, 'the job completed')
    assert done.finished >= done.started and done.error is None
    assert done.result == {'text': {'media_type': 'text/plain', 'key': key}}
    assert done.duration >= dt.timedelta(0)
    # an outcome is final
    assert not store.finish('job-1', 'failed', error={'status': 500, 'type': 'x', 'title': 'x', 'detail': 'x'})
    assert not store.mark_running('job-1', 'host:789')
    assert store.progress('job-1', 50) == 'successful'
    assert store.get('job-1').status == 'successful'


def test_failure_keeps_its_error(store):
    store.create(JobRecord('job-f', 'p'))
    store.mark_running('job-f', 'x')
    error = {'status': 400, 'type': 'InvalidParameterValue', 'title': 'Invalid parameter value', 'detail': 'x < 0'}
    assert store.finish('job-f', 'failed', error=error)
    record = store.get('job-f')
    assert (record.status, record.error, record.message, record.result) == ('failed', error, 'x < 0', None)
    with pytest.raises(ValueError):
        store.finish('job-f', 'dismissed')


def test_list_filters(store):
    def job(job_id, process_id, status, created, started=None, finished=None, type='process'):
        store.create(JobRecord(job_id, process_id, status=status, created=created, started=started,
                               finished=finished, type=type))

    base = ago(hours=10)
    h = lambda hours: base + dt.timedelta(hours=hours)                     # noqa: E731
    job('a', 'squares', 'successful', h(0), h(0), h(0) + dt.timedelta(seconds=5))
    job('b', 'squares', 'failed', h(1), h(1), h(1) + dt.timedelta(seconds=60))
    job('c', 'regrid', 'running', h(2), ago(seconds=30))                    # running for ~30 s so far
    job('d', 'regrid', 'accepted', h(3))
    job('e', 'other', 'dismissed', h(4), h(4), h(4) + dt.timedelta(seconds=600), type='workflow')

    ids = lambda records: [r.job_id for r in records]                      # noqa: E731
    assert ids(store.list()) == ['e', 'd', 'c', 'b', 'a']                  # newest first
    assert ids(store.list(process_id='squares')) == ['b', 'a']
    assert ids(store.list(process_id=['regrid', 'other'])) == ['e', 'd', 'c']
    assert ids(store.list(process_id=[])) == []
    assert ids(store.list(status='running')) == ['c']
    assert ids(store.list(status=['successful', 'failed'])) == ['b', 'a']
    assert ids(store.list(type='process')) == ['d', 'c', 'b', 'a']
    assert ids(store.list(type=['workflow'])) == ['e']
    assert ids(store.list(datetime=(h(1), h(3)))) == ['d', 'c', 'b']        # closed interval on creation
    assert ids(store.list(datetime=(h(2.5), None))) == ['e', 'd']
    assert ids(store.list(datetime=(None, h(0.5)))) == ['a']
    assert ids(store.list(datetime=h(2))) == ['c']
    assert ids(store.list(min_duration=20)) == ['e', 'c', 'b']              # 'd' never started: no duration
    assert ids(store.list(max_duration=dt.timedelta(seconds=59))) == ['c', 'a']
    assert ids(store.list(min_duration=10, max_duration=100)) == ['c', 'b']
    assert ids(store.list(process_id='regrid', status='accepted')) == ['d']
    assert ids(store.list(limit=2)) == ['e', 'd']
    assert ids(store.list(limit=2, offset=2)) == ['c', 'b']
    assert ids(store.list(limit=2, offset=4)) == ['a']
    assert ids(store.list(limit=None, offset=1)) == ['d', 'c', 'b', 'a']
    assert store.count() == 5
    assert store.count(status=['successful', 'failed', 'running']) == 3
    assert store.count(min_duration=20) == 3


def test_dismiss_a_running_job(store, results):
    store.create(JobRecord('job-d', 'slow'))
    assert store.mark_running('job-d', 'host:1')
    assert store.progress('job-d', 20, 'working') == 'running'
    dismissed = store.dismiss('job-d')
    assert dismissed.status == 'dismissed' and dismissed.finished is not None
    assert dismissed == store.get('job-d')
    # the running task learns it at its next progress or heartbeat, and stops
    assert store.progress('job-d', 30, 'still working') == 'dismissed'
    assert store.progress('job-d') == 'dismissed'
    # what it does next cannot bring the job back
    assert not store.finish('job-d', 'successful', result={})
    assert not store.finish('job-d', 'failed')
    assert store.get('job-d').status == 'dismissed' and store.get('job-d').progress == 20
    assert store.dismiss('job-d') == store.get('job-d')           # again: the same record
    assert store.dismiss('missing') is None
    assert store.progress('missing', 10) == 'dismissed'          # a job that is gone is as good as dismissed


def test_finish_never_overwrites_dismissed(store):
    store.create(JobRecord('job-q', 'p'))
    assert store.dismiss('job-q').status == 'dismissed'          # dismissed while queued
    assert not store.mark_running('job-q', 'host:1')              # the executor does not start it
    assert not store.finish('job-q', 'failed', message='too late')
    assert not store.finish('job-q', 'successful', result={'x': {}})
    record = store.get('job-q')
    assert (record.status, record.result, record.error) == ('dismissed', None, None)


def test_dismiss_a_finished_job_removes_its_results(store, results):
    store.create(JobRecord('job-r', 'p'))
    store.mark_running('job-r', 'x')
    key = results.put('job-r', 'out', b'payload')
    store.finish('job-r', 'successful', result={'out': {'media_type': 'text/plain', 'key': key}})
    assert results.read(key) == b'payload'
    record = store.dismiss('job-r')
    assert (record.status, record.result) == ('dismissed', None)
    with pytest.raises(NotFound):
        results.open(key)


def test_reap_fails_stale_running_jobs_and_jobs_never_started(store):
    store.create(JobRecord('stale', 'p', status='running', created=ago(minutes=5), started=ago(minutes=5),
                           heartbeat=ago(seconds=120), executor='host:1'))
    store.create(JobRecord('alive', 'p', status='running', created=ago(minutes=5), started=ago(minutes=5),
                           heartbeat=ago(seconds=120), executor='host:2'))
    store.create(JobRecord('queued-long', 'p', created=ago(hours=2)))
    store.create(JobRecord('queued', 'p', created=ago(seconds=10)))
    store.create(JobRecord('done', 'p', status='successful', created=ago(hours=3), started=ago(hours=3),
                           finished=ago(hours=3), heartbeat=ago(hours=3)))
    assert store.progress('alive', 50) == 'running'                # its heartbeat is fresh now

    assert store.reap(60) == ['stale']                             # no queue timeout: accepted jobs stay
    stale = store.get('stale')
    assert stale.status == 'failed' and stale.finished is not None
    assert stale.message == 'the executor stopped responding (no heartbeat for 120 s)'
    assert stale.error['status'] == 500 and stale.error['detail'] == stale.message
    assert store.get('alive').status == 'running'
    assert store.get('queued-long').status == 'accepted'

    assert store.reap(dt.timedelta(seconds=60), queue_timeout=3600) == ['queued-long']
    queued = store.get('queued-long')
    assert queued.status == 'failed'
    assert queued.message == 'no executor started the job within 3600 s of its submission'
    assert queued.error['status'] == 503 and queued.error['detail'] == queued.message
    assert store.get('queued').status == 'accepted'
    assert store.get('done').status == 'successful'
    assert store.reap(60, queue_timeout=3600) == []                # nothing left to reap
    # the executor of a reaped job cannot finish it any more
    assert store.progress('stale', 90) == 'failed'
    assert not store.finish('stale', 'successful', result={})


def test_expire_removes_old_jobs_and_their_results(store, results):
    for job_id, status, age in (('old-ok', 'successful', 8), ('old-failed', 'failed', 8),
                                ('old-dismissed', 'dismissed', 9), ('recent', 'successful', 1)):
        store.create(JobRecord(job_id, 'p', status=status, created=ago(days=age, hours=1),
                               started=ago(days=age, hours=1), finished=ago(days=age)))
        results.put(job_id, 'out', job_id.encode())
    store.create(JobRecord('old-running', 'p', status='running', created=ago(days=9), started=ago(days=9),
                           heartbeat=ago(seconds=1)))

    assert sorted(store.expire(dt.timedelta(days=7))) == ['old-dismissed', 'old-failed', 'old-ok']
    for job_id in ('old-ok', 'old-failed', 'old-dismissed'):
        assert store.get(job_id) is None
        with pytest.raises(NotFound):
            results.open(f'{job_id}/out')
    assert store.get('recent').status == 'successful' and results.read('recent/out') == b'recent'
    assert store.get('old-running').status == 'running'
    assert store.expire(7 * 86400) == []
    assert store.expire(0) == ['recent']


def test_migrations_are_idempotent(store_url, results):
    with open_store(store_url) as first:
        first.create(JobRecord('kept', 'p'))
        assert first.schema_version() == 1
    with open_store(store_url) as second, open_store(store_url) as third:
        assert second.schema_version() == third.schema_version() == 1
        assert second.get('kept').status == 'accepted'
        count = second._transact(lambda execute: execute('SELECT COUNT(*) FROM schema_version').fetchone()[0])
        assert count == 1


def test_two_stores_see_each_others_writes(store_url, results):
    """Two store objects, like two server processes (or a server and an executor), on one database."""
    with open_store(store_url, results=results) as a, open_store(store_url, results=results) as b:
        a.create(JobRecord('shared', 'p'))
        assert b.get('shared').status == 'accepted'
        assert b.mark_running('shared', 'b')
        assert a.get('shared').status == 'running'
        assert not a.mark_running('shared', 'a')
        assert a.dismiss('shared').status == 'dismissed'
        assert b.progress('shared', 50) == 'dismissed'
        assert [r.job_id for r in b.list()] == ['shared']

        # racing executors: each job is taken by exactly one of them
        for i in range(10):
            a.create(JobRecord(f'race-{i}', 'p'))
        wins = {'a': 0, 'b': 0}
        barrier = threading.Barrier(2)

        def take(name, store):
            barrier.wait()
            for i in range(10):
                if store.mark_running(f'race-{i}', name):
                    wins[name] += 1
        threads = [threading.Thread(target=take, args=(n, s)) for n, s in (('a', a), ('b', b))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert wins['a'] + wins['b'] == 10
        assert a.count(status='running') == 10


def test_sqlite_is_in_wal_mode(tmp_path):
    with open_store(f'sqlite:///{tmp_path}/wal.sqlite3') as store:
        assert store._transact(lambda execute: execute('PRAGMA journal_mode').fetchone()[0]) == 'wal'


def test_a_lost_postgres_connection_is_replaced(postgres):
    import psycopg
    url = postgres.new_database()
    with open_store(url) as store:
        store.create(JobRecord('survivor', 'p'))
        with psycopg.connect(url, autocommit=True) as admin:
            killed = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE application_name = 'kazarr-jobs' AND pid <> pg_backend_pid()").fetchall()
        assert killed == [(True,)]
        assert store.get('survivor').status == 'accepted'       # reconnected, the read run again
        assert store.mark_running('survivor', 'x')
