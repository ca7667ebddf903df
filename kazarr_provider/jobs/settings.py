"""The job machinery's settings, from the environment.

JOBS_STATE_DIR              where the embedded defaults live (default: `jobs` under KAZARR_STATE_DIR)
JOBS_DATABASE_URL           postgresql://... for several machines; default: a SQLite file in JOBS_STATE_DIR
RESULTS_URL                 s3://bucket/prefix or a (shared) directory; default: `results` in JOBS_STATE_DIR
JOB_WORKERS                 size of the embedded process pool of each web worker (default 2)
JOB_HEARTBEAT_SECONDS       how often a running job says it is alive (default 5)
JOB_STALE_SECONDS           a running job silent for longer is failed by the reaper (default 60)
JOB_QUEUE_TIMEOUT_SECONDS   an accepted job not started within this is failed by the reaper (default 6 h)
JOB_EXPIRY_SECONDS          finished jobs and their results are removed after this (default 7 days)
DASK_SCHEDULER_ADDRESS      run jobs on this Dask cluster instead of the embedded pool
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping


def _number(env: Mapping[str, str], name: str, default: float, kind=float, minimum: float = 0):
    value = (env.get(name) or '').strip()
    if not value:
        return default
    try:
        number = kind(value)
    except ValueError:
        raise SystemExit(f'{name} must be a{"n integer" if kind is int else " number"}, got {value!r}') from None
    if number < minimum:
        raise SystemExit(f'{name} must be at least {minimum}, got {value!r}')
    return number


def sqlite_url(path: str) -> str:
    return 'sqlite:///' + os.path.abspath(path)


@dataclass(frozen=True)
class JobSettings:
    state_dir: str
    database_url: str                     # sqlite:///abs/path or postgresql://...
    results_url: str                      # s3://bucket/prefix or a directory
    workers: int = 2
    heartbeat_seconds: float = 5.0
    stale_seconds: float = 60.0
    queue_timeout_seconds: float = 6 * 3600.0
    expiry_seconds: float = 7 * 86400.0
    dask_scheduler_address: str | None = None

    @property
    def reaper_interval(self) -> float:
        """How often the reaper looks: often enough to catch a stale job soon after it goes stale."""
        return max(0.1, min(self.stale_seconds / 3, 30.0))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, state_dir: str | None = None) -> 'JobSettings':
        """`state_dir`: the server's state directory (Settings.state_dir) when the caller has it."""
        env = os.environ if env is None else env
        jobs_dir = env.get('JOBS_STATE_DIR') or os.path.join(state_dir or _server_state_dir(env), 'jobs')
        jobs_dir = os.path.abspath(jobs_dir)
        heartbeat = _number(env, 'JOB_HEARTBEAT_SECONDS', 5.0, minimum=0.01)
        stale = _number(env, 'JOB_STALE_SECONDS', max(60.0, 4 * heartbeat), minimum=0.01)
        if stale <= heartbeat:
            raise SystemExit(f'JOB_STALE_SECONDS ({stale:g}) must be longer than JOB_HEARTBEAT_SECONDS ({heartbeat:g})')
        return cls(
            state_dir=jobs_dir,
            database_url=((env.get('JOBS_DATABASE_URL') or '').strip()
                          or sqlite_url(os.path.join(jobs_dir, 'jobs.sqlite3'))),
            results_url=(env.get('RESULTS_URL') or '').strip() or os.path.join(jobs_dir, 'results'),
            workers=_number(env, 'JOB_WORKERS', 2, kind=int, minimum=1),
            heartbeat_seconds=heartbeat,
            stale_seconds=stale,
            queue_timeout_seconds=_number(env, 'JOB_QUEUE_TIMEOUT_SECONDS', 6 * 3600.0, minimum=0.01),
            expiry_seconds=_number(env, 'JOB_EXPIRY_SECONDS', 7 * 86400.0, minimum=0),
            dask_scheduler_address=(env.get('DASK_SCHEDULER_ADDRESS') or '').strip() or None,
        )


def _server_state_dir(env: Mapping[str, str]) -> str:
    # the same variable and default as kazarr_provider.settings.Settings.state_dir
    return env.get('KAZARR_STATE_DIR') or '.kazarr'
