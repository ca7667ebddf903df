"""Job records and where they are kept, outside any one web worker.

A `JobStore` is SQLite (one machine: a file under the jobs state directory, shared by the gunicorn
workers) or PostgreSQL (several machines: JOBS_DATABASE_URL=postgresql://...). Both are the one SQL
implementation of `sql.py`, so they behave the same. Every state change is one conditional UPDATE,
so two processes (web workers, executors, reapers) racing on a job never both win:

    accepted --mark_running--> running --finish--> successful | failed
        \\                         \\
         `--finish (failed)        `--reap (no heartbeat) --> failed
    any status --dismiss--> dismissed   (finish never overwrites it)

Open one store per process (`open_store`) and share it between that process's threads.
"""
from __future__ import annotations

import abc
import datetime as dt
import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Sequence


STATUSES = ('accepted', 'running', 'successful', 'failed', 'dismissed')
ACTIVE = ('accepted', 'running')
FINISHED = ('successful', 'failed', 'dismissed')
JOB_ID = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$')


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def to_epoch(value: dt.datetime | float | None) -> float | None:
    """Timestamps are kept as seconds since the epoch (UTC) on both backends."""
    if value is None or isinstance(value, (int, float)):
        return value
    if value.tzinfo is None:
        raise ValueError(f'a naive datetime is ambiguous: {value!r} (give it a time zone)')
    return value.timestamp()


def from_epoch(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, dt.timezone.utc)


def seconds(value: float | dt.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not JOB_ID.match(job_id):
        raise ValueError(f'invalid job id {job_id!r}: letters, digits, ".", "_" and "-" only (at most 128)')
    return job_id


@dataclass(frozen=True)
class JobRecord:
    """One job. `result`: {output_id: {'media_type': ..., 'key': ...}} (keys of the results store);
    `error`: {'status': HTTP status, 'type': ..., 'title': ..., 'detail': ...}; `options`: the request's
    options (outputs, response); `executor`: who runs it; `heartbeat`: when it last said it was alive."""

    job_id: str
    process_id: str
    status: str = 'accepted'
    message: str | None = None
    progress: int = 0
    created: dt.datetime = field(default_factory=utcnow)
    started: dt.datetime | None = None
    finished: dt.datetime | None = None
    updated: dt.datetime | None = None
    inputs: Any = None
    options: Any = None
    result: dict | None = None
    error: dict | None = None
    executor: str | None = None
    heartbeat: dt.datetime | None = None
    type: str = 'process'

    def __post_init__(self):
        check_job_id(self.job_id)
        if self.status not in STATUSES:
            raise ValueError(f'invalid job status {self.status!r}: one of {", ".join(STATUSES)}')
        if not 0 <= self.progress <= 100:
            raise ValueError(f'progress must lie in 0..100, got {self.progress}')
        for name in ('created', 'started', 'finished', 'updated', 'heartbeat'):
            value = getattr(self, name)
            if value is not None:
                if value.tzinfo is None:
                    raise ValueError(f'{name} must be an aware datetime, got {value!r}')
                object.__setattr__(self, name, value.astimezone(dt.timezone.utc))
        if self.updated is None:
            object.__setattr__(self, 'updated', self.created)

    @property
    def duration(self) -> dt.timedelta | None:
        """From start to finish (or to now while it runs); None before it started."""
        if self.started is None:
            return None
        return (self.finished or utcnow()) - self.started

    def evolve(self, **changes) -> 'JobRecord':
        return replace(self, **changes)


def error_info(status: int, title: str, detail: str, type: str = 'NoApplicableCode') -> dict:
    return {'status': int(status), 'type': type, 'title': title, 'detail': detail}


class JobStore(abc.ABC):
    """Where job records live. `results`: the results store whose files `dismiss` and `expire` remove
    with the jobs (None: the caller removes them)."""

    results = None

    @abc.abstractmethod
    def create(self, record: JobRecord) -> JobRecord:
        """Store a new job (ValueError when the id is taken)."""

    @abc.abstractmethod
    def get(self, job_id: str) -> JobRecord | None:
        ...

    @abc.abstractmethod
    def list(self, process_id: str | Sequence[str] | None = None, status: str | Sequence[str] | None = None,
             type: str | Sequence[str] | None = None,
             datetime: tuple[dt.datetime | None, dt.datetime | None] | dt.datetime | None = None,
             min_duration: float | dt.timedelta | None = None, max_duration: float | dt.timedelta | None = None,
             limit: int | None = 100, offset: int = 0) -> list[JobRecord]:
        """Jobs newest first, filtered as OGC API - Processes /jobs does: `process_id`, `status`, `type`
        (each one value or several), `datetime` (the creation time lies in the closed interval; an open
        end is None; one datetime: created exactly then), `min_duration`/`max_duration` in seconds (a job's
        duration runs from its start to its end, or now; jobs not started have none and are left out)."""

    @abc.abstractmethod
    def count(self, process_id=None, status=None, type=None, datetime=None, min_duration=None,
              max_duration=None) -> int:
        """How many jobs `list` would give without limit and offset."""

    @abc.abstractmethod
    def mark_running(self, job_id: str, executor: str) -> bool:
        """accepted -> running; False when the job is not accepted (dismissed, taken, gone)."""

    @abc.abstractmethod
    def progress(self, job_id: str, percent: int | None = None, message: str | None = None) -> str:
        """Record progress (None: leave as is) of a running job and refresh its heartbeat. Returns the
        job's status: anything but 'running' tells the task to stop ('dismissed' for a job that is gone)."""

    @abc.abstractmethod
    def finish(self, job_id: str, status: str, result: dict | None = None, error: dict | None = None,
               message: str | None = None) -> bool:
        """accepted|running -> successful|failed; False (and nothing changed) otherwise: a dismissed job
        stays dismissed, a finished one keeps its outcome."""

    @abc.abstractmethod
    def dismiss(self, job_id: str) -> JobRecord | None:
        """Any job -> dismissed (a running task notices at its next progress or heartbeat and stops);
        the results of a finished job are removed. The record, or None when there is no such job."""

    @abc.abstractmethod
    def reap(self, stale_seconds: float | dt.timedelta,
             queue_timeout: float | dt.timedelta | None = None) -> list[str]:
        """Running jobs without a heartbeat for `stale_seconds`, and accepted jobs waiting for longer than
        `queue_timeout` (None: those are left alone), -> failed with the reason. Their ids."""

    @abc.abstractmethod
    def expire(self, older_than: float | dt.timedelta) -> list[str]:
        """Remove finished (successful, failed, dismissed) jobs that ended more than `older_than` seconds
        ago, with their results. Their ids."""

    def delete(self, job_id: str) -> bool:
        """Remove one job's record and results whatever its status (administration, tests)."""
        raise NotImplementedError

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def as_list(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


def redact_url(url: str) -> str:
    """A database URL fit for a message: its password replaced."""
    return re.sub(r'(://[^/:@]*:)[^@/]*@', r'\1***@', url)
