"""The job store in SQL that SQLite and PostgreSQL both speak: one implementation, one behaviour.

Timestamps are seconds since the epoch (DOUBLE PRECISION), JSON is text. A backend gives a way to run
a short transaction (`_transact`) and its placeholder; everything else is here. The schema is created
and migrated by `migrate()`: `schema_version` holds the versions applied, each migration runs once,
under a lock, so servers starting together do not trip over each other.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import Any, Callable

from .store import (ACTIVE, FINISHED, JobRecord, JobStore, as_list, check_job_id, error_info, from_epoch,
                    seconds, to_epoch)

LOGGER = logging.getLogger(__name__)

# (version, statements): append only; a statement must run on both backends
MIGRATIONS: list[tuple[int, list[str]]] = [
    (1, [
        """CREATE TABLE IF NOT EXISTS jobs (
            job_id TEXT PRIMARY KEY,
            process_id TEXT NOT NULL,
            type TEXT NOT NULL DEFAULT 'process',
            status TEXT NOT NULL,
            message TEXT,
            progress INTEGER NOT NULL DEFAULT 0,
            created DOUBLE PRECISION NOT NULL,
            started DOUBLE PRECISION,
            finished DOUBLE PRECISION,
            updated DOUBLE PRECISION NOT NULL,
            heartbeat DOUBLE PRECISION,
            inputs TEXT,
            options TEXT,
            result TEXT,
            error TEXT,
            executor TEXT
        )""",
        'CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status)',
        'CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created)',
        'CREATE INDEX IF NOT EXISTS jobs_process ON jobs (process_id)',
    ]),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]

COLUMNS = ('job_id', 'process_id', 'type', 'status', 'message', 'progress', 'created', 'started', 'finished',
           'updated', 'heartbeat', 'inputs', 'options', 'result', 'error', 'executor')
TIMES = ('created', 'started', 'finished', 'updated', 'heartbeat')
JSONS = ('inputs', 'options', 'result', 'error')
SELECT = f'SELECT {", ".join(COLUMNS)} FROM jobs'
NO_LIMIT = 2 ** 62

Execute = Callable[..., Any]       # execute(sql, params=()) -> cursor


def _dumps(value) -> str | None:
    return None if value is None else json.dumps(value, separators=(',', ':'), ensure_ascii=False)


def _record(row) -> JobRecord:
    values = dict(zip(COLUMNS, row))
    for name in TIMES:
        values[name] = from_epoch(values[name])
    for name in JSONS:
        if values[name] is not None:
            values[name] = json.loads(values[name])
    values['progress'] = int(values['progress'])
    return JobRecord(**values)


def _marks(values) -> str:
    return ', '.join('?' * len(values))


class SQLJobStore(JobStore):
    """Subclasses implement `_transact(fn, write)` (run fn(execute) in one short transaction and return its
    result), `_lock_for_migration(execute)` and `_duplicate` (the exception of a taken primary key)."""

    _duplicate: tuple[type[BaseException], ...] = ()
    clock: Callable[[], float] = staticmethod(time.time)

    # -- backend
    def _transact(self, fn: Callable[[Execute], Any], write: bool = True):
        raise NotImplementedError

    def _lock_for_migration(self, execute: Execute):
        pass

    # -- schema
    def migrate(self) -> int:
        """Create or update the schema (idempotent); the version it is at."""
        def run(execute):
            self._lock_for_migration(execute)
            execute('CREATE TABLE IF NOT EXISTS schema_version ('
                    'version INTEGER PRIMARY KEY, applied DOUBLE PRECISION NOT NULL)')
            current = execute('SELECT MAX(version) FROM schema_version').fetchone()[0] or 0
            for version, statements in MIGRATIONS:
                if version > current:
                    for statement in statements:
                        execute(statement)
                    execute('INSERT INTO schema_version (version, applied) VALUES (?, ?)', (version, self.clock()))
                    LOGGER.info('job store schema migrated to version %d', version)
            if current > SCHEMA_VERSION:
                LOGGER.warning('the job store schema is at version %d, newer than this server knows (%d)',
                               current, SCHEMA_VERSION)
            return max(current, SCHEMA_VERSION)
        return self._transact(run)

    def schema_version(self) -> int:
        return self._transact(lambda execute: execute('SELECT MAX(version) FROM schema_version').fetchone()[0],
                              write=False)

    # -- records
    def create(self, record: JobRecord) -> JobRecord:
        values = [getattr(record, name) for name in COLUMNS]
        row = []
        for name, value in zip(COLUMNS, values):
            row.append(to_epoch(value) if name in TIMES else _dumps(value) if name in JSONS else value)
        try:
            self._transact(lambda execute: execute(
                f'INSERT INTO jobs ({", ".join(COLUMNS)}) VALUES ({_marks(COLUMNS)})', row))
        except self._duplicate:
            raise ValueError(f'a job {record.job_id!r} exists already') from None
        return record

    def get(self, job_id: str) -> JobRecord | None:
        row = self._transact(lambda execute: execute(f'{SELECT} WHERE job_id = ?', (job_id,)).fetchone(),
                             write=False)
        return None if row is None else _record(row)

    def _where(self, process_id=None, status=None, type=None, datetime=None, min_duration=None,
               max_duration=None) -> tuple[str, list]:
        clauses, params = [], []
        for column, values in (('process_id', as_list(process_id)), ('status', as_list(status)),
                               ('type', as_list(type))):
            if values is None:
                continue
            if not values:
                clauses.append('1 = 0')
            else:
                clauses.append(f'{column} IN ({_marks(values)})')
                params.extend(values)
        if datetime is not None:
            if isinstance(datetime, dt.datetime):
                clauses.append('created = ?')
                params.append(to_epoch(datetime))
            else:
                start, end = datetime
                if start is not None:
                    clauses.append('created >= ?')
                    params.append(to_epoch(start))
                if end is not None:
                    clauses.append('created <= ?')
                    params.append(to_epoch(end))
        for bound, op in ((min_duration, '>='), (max_duration, '<=')):
            if bound is not None:
                clauses.append(f'started IS NOT NULL AND COALESCE(finished, ?) - started {op} ?')
                params.extend((self.clock(), seconds(bound)))
        return (' WHERE ' + ' AND '.join(clauses)) if clauses else '', params

    def list(self, process_id=None, status=None, type=None, datetime=None, min_duration=None, max_duration=None,
             limit: int | None = 100, offset: int = 0) -> list[JobRecord]:
        where, params = self._where(process_id, status, type, datetime, min_duration, max_duration)
        sql = f'{SELECT}{where} ORDER BY created DESC, job_id LIMIT ? OFFSET ?'
        params += [NO_LIMIT if limit is None else max(0, int(limit)), max(0, int(offset))]
        rows = self._transact(lambda execute: execute(sql, params).fetchall(), write=False)
        return [_record(row) for row in rows]

    def count(self, process_id=None, status=None, type=None, datetime=None, min_duration=None,
              max_duration=None) -> int:
        where, params = self._where(process_id, status, type, datetime, min_duration, max_duration)
        return self._transact(lambda execute: execute(f'SELECT COUNT(*) FROM jobs{where}', params).fetchone()[0],
                              write=False)

    # -- transitions: each one conditional UPDATE
    def mark_running(self, job_id: str, executor: str) -> bool:
        now = self.clock()
        cursor = self._transact(lambda execute: execute(
            "UPDATE jobs SET status = 'running', executor = ?, started = ?, heartbeat = ?, updated = ?, "
            "message = ? WHERE job_id = ? AND status = 'accepted'", (executor, now, now, now, 'running', job_id)))
        return cursor.rowcount == 1

    def progress(self, job_id: str, percent: int | None = None, message: str | None = None) -> str:
        now = self.clock()
        if percent is not None:
            percent = max(0, min(100, int(percent)))

        def run(execute):
            if percent is None and message is None:          # a heartbeat: the status info is unchanged
                cursor = execute("UPDATE jobs SET heartbeat = ? WHERE job_id = ? AND status = 'running'",
                                 (now, job_id))
            else:
                cursor = execute("UPDATE jobs SET progress = COALESCE(?, progress), message = COALESCE(?, message), "
                                 "heartbeat = ?, updated = ? WHERE job_id = ? AND status = 'running'",
                                 (percent, message, now, now, job_id))
            if cursor.rowcount == 1:
                return 'running'
            row = execute('SELECT status FROM jobs WHERE job_id = ?', (job_id,)).fetchone()
            return row[0] if row else 'dismissed'       # a job that is gone is as good as dismissed
        return self._transact(run)

    def finish(self, job_id: str, status: str, result: dict | None = None, error: dict | None = None,
               message: str | None = None) -> bool:
        if status not in ('successful', 'failed'):
            raise ValueError(f'a job finishes successful or failed, not {status!r}')
        if status == 'failed' and error is None:
            error = error_info(500, 'The job failed', message or 'the job failed')
        if message is None:
            message = error['detail'] if status == 'failed' else 'the job completed'
        now = self.clock()
        cursor = self._transact(lambda execute: execute(
            f'UPDATE jobs SET status = ?, message = ?, progress = COALESCE(?, progress), finished = ?, updated = ?, '
            f'result = ?, error = ? WHERE job_id = ? AND status IN ({_marks(ACTIVE)})',
            (status, message, 100 if status == 'successful' else None, now, now, _dumps(result),
             _dumps(error if status == 'failed' else None), job_id, *ACTIVE)))
        return cursor.rowcount == 1

    def dismiss(self, job_id: str) -> JobRecord | None:
        now = self.clock()

        def run(execute):
            before = execute('SELECT status FROM jobs WHERE job_id = ?', (job_id,)).fetchone()
            if before is None:
                return None, None
            execute("UPDATE jobs SET status = 'dismissed', message = ?, finished = COALESCE(finished, ?), "
                    "updated = ?, result = NULL WHERE job_id = ? AND status <> 'dismissed'",
                    ('the job was dismissed', now, now, job_id))
            return before[0], execute(f'{SELECT} WHERE job_id = ?', (job_id,)).fetchone()
        before, row = self._transact(run)
        if row is None:
            return None
        if before != 'dismissed' and self.results is not None:
            self.results.delete_job(job_id)      # a running task removes what it writes after this itself
        return _record(row)

    def reap(self, stale_seconds, queue_timeout=None) -> list[str]:
        now = self.clock()
        stale = seconds(stale_seconds)
        reaped = []
        rows = self._transact(lambda execute: execute(
            "SELECT job_id, COALESCE(heartbeat, started, created) FROM jobs "
            "WHERE status = 'running' AND COALESCE(heartbeat, started, created) < ?", (now - stale,)).fetchall(),
            write=False)
        for job_id, beat in rows:
            reason = f'the executor stopped responding (no heartbeat for {max(now - beat, stale):.0f} s)'
            if self._fail(job_id, 'running', 'COALESCE(heartbeat, started, created) < ?', now - stale, now,
                          error_info(500, 'The executor stopped responding', reason)):
                reaped.append(job_id)
        if queue_timeout is not None:
            wait = seconds(queue_timeout)
            rows = self._transact(lambda execute: execute(
                "SELECT job_id FROM jobs WHERE status = 'accepted' AND created < ?", (now - wait,)).fetchall(),
                write=False)
            for (job_id,) in rows:
                reason = f'no executor started the job within {wait:.0f} s of its submission'
                if self._fail(job_id, 'accepted', 'created < ?', now - wait, now,
                              error_info(503, 'The job was never started', reason, 'ServiceUnavailable')):
                    reaped.append(job_id)
        if reaped:
            LOGGER.warning('jobs failed by the reaper: %s', ', '.join(reaped))
        return reaped

    def _fail(self, job_id: str, status: str, condition: str, bound: float, now: float, error: dict) -> bool:
        """status -> failed when `condition` (on `bound`) still holds: whoever changed it meanwhile wins."""
        cursor = self._transact(lambda execute: execute(
            f"UPDATE jobs SET status = 'failed', message = ?, error = ?, finished = ?, updated = ? "
            f"WHERE job_id = ? AND status = ? AND {condition}",
            (error['detail'], _dumps(error), now, now, job_id, status, bound)))
        return cursor.rowcount == 1

    def expire(self, older_than) -> list[str]:
        cutoff = self.clock() - seconds(older_than)
        condition = f'status IN ({_marks(FINISHED)}) AND COALESCE(finished, updated) < ?'
        rows = self._transact(lambda execute: execute(
            f'SELECT job_id FROM jobs WHERE {condition}', (*FINISHED, cutoff)).fetchall(), write=False)
        expired = []
        for (job_id,) in rows:
            if self.results is not None:
                self.results.delete_job(job_id)   # first: a crash in between leaves a record to expire again
            cursor = self._transact(lambda execute: execute(
                f'DELETE FROM jobs WHERE job_id = ? AND {condition}', (job_id, *FINISHED, cutoff)))
            if cursor.rowcount == 1:
                expired.append(job_id)
        return expired

    def delete(self, job_id: str) -> bool:
        check_job_id(job_id)
        if self.results is not None:
            self.results.delete_job(job_id)
        cursor = self._transact(lambda execute: execute('DELETE FROM jobs WHERE job_id = ?', (job_id,)))
        return cursor.rowcount == 1
