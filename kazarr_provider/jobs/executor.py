"""Running jobs outside the request: a bounded process pool per web worker, or an existing Dask cluster.

`submit(job_id, task_spec)` hands a job to the executor of the settings (DASK_SCHEDULER_ADDRESS set: the
Dask cluster; otherwise a ProcessPoolExecutor of JOB_WORKERS 'spawn'ed processes, created lazily in each
web-worker process). Either way the job runs `run_job`, which depends on nothing of the web worker that
accepted the job: it opens the job store and the results store itself, marks the job running, keeps a
heartbeat, calls the computation, stores its outputs and finishes the job.

A task spec is JSON: {'function': 'package.module:function', 'args': <JSON>}. The function is called as
`fn(args, progress)` and returns {output_id: (media_type, bytes or an iterable of bytes)}; it calls
`progress(percent, message)` now and then, which raises `Dismissed` once the job was dismissed (the
function should let it propagate: that is how a dismissed job stops).
"""
from __future__ import annotations

import importlib
import json
import logging
import os
import re
import socket
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any

from ..errors import KazarrError, status_of
from .settings import JobSettings
from .store import error_info, redact_url

LOGGER = logging.getLogger(__name__)
PROGRESS_MIN_INTERVAL = 0.2       # seconds between two progress writes of one job (the last one always lands)
MAX_REQUEUES = 3                  # a queued job re-queued after its pool broke, at most this often


class Dismissed(Exception):
    """Raised by `progress` when the job is no longer running (dismissed, or failed by the reaper)."""

    def __init__(self, status: str = 'dismissed'):
        super().__init__(f'the job is {status}')
        self.status = status


class ExecutorUnavailable(Exception):
    """The job could not be handed to an executor (the Dask scheduler does not answer, ...)."""


def task_spec(function: str, args: Any = None) -> dict:
    """A task spec, checked: `function` a dotted path ('package.module:function'), `args` JSON."""
    if not re.fullmatch(r'[A-Za-z_][\w.]*(:[A-Za-z_]\w*)?', function or ''):
        raise ValueError(f'invalid function path {function!r}')
    json.dumps(args)
    return {'function': function, 'args': args}


def load_function(path: str):
    """'package.module:function' (or 'package.module.function')."""
    module, sep, name = path.partition(':')
    if not sep:
        module, _, name = path.rpartition('.')
    return getattr(importlib.import_module(module), name)


def _camel_words(code: str) -> str:
    words = re.sub(r'(?<=[a-z])(?=[A-Z])', ' ', code).split()
    return ' '.join([words[0]] + [w.lower() for w in words[1:]]) if words else code


def describe_error(error: BaseException) -> dict:
    """The error of a failed job: HTTP status, type, title, detail. Never a traceback, never a credential:
    our own errors say what they mean; anything else gives its type and the first line of its message."""
    from ..logsafe import redact
    if isinstance(error, KazarrError):
        return error_info(status_of(error), _camel_words(error.code), redact(error.description), error.code)
    if isinstance(error, MemoryError):
        return error_info(500, 'The computation failed', 'the computation ran out of memory')
    text = (str(error).strip().splitlines() or [''])[0]
    text = redact(redact_url(text))[:500]
    detail = f'{type(error).__name__}: {text}' if text else type(error).__name__
    return error_info(500, 'The computation failed', detail)


def executor_name() -> str:
    name = f'{socket.gethostname()}:{os.getpid()}'
    if 'distributed' in sys.modules:
        try:
            from distributed import get_worker
            return f'dask {get_worker().address} {name}'
        except (ImportError, ValueError):
            pass
    return name


# -- in the executor's process ------------------------------------------------------------------------------

_OPEN: dict[tuple, Any] = {}
_OPEN_LOCK = threading.Lock()


def _stores(store_url: str, results_url: str):
    """The job and results stores of this process (opened once per process, after any fork)."""
    from .results import open_results
    from .backends import open_store
    key = (os.getpid(), store_url, results_url)
    with _OPEN_LOCK:
        if key not in _OPEN:
            results = open_results(results_url)
            _OPEN[key] = (open_store(store_url, results=results), results)
        return _OPEN[key]


class _Heartbeat(threading.Thread):
    """Says every `interval` s that the job is alive; learns so that it was dismissed. Also writes the
    progress a task reported last when that was held back by the throttle."""

    def __init__(self, store, job_id: str, interval: float):
        super().__init__(name=f'heartbeat-{job_id}', daemon=True)
        self.store, self.job_id, self.interval = store, job_id, interval
        self.status = 'running'
        self.pending: tuple | None = None
        self.lock = threading.Lock()
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.wait(self.interval):
            with self.lock:
                pending, self.pending = self.pending, None
            try:
                status = self.store.progress(self.job_id, *(pending or (None, None)))
            except Exception as error:          # the database is away for a moment: try again next beat
                LOGGER.warning('job %s: heartbeat failed (%s)', self.job_id, type(error).__name__)
                continue
            if status != 'running':
                self.status = status
                return

    def stop(self):
        self._stop_event.set()


class _Progress:
    """The `progress(percent, message)` a computation is given."""

    def __init__(self, store, job_id: str, heartbeat: _Heartbeat):
        self.store, self.job_id, self.heartbeat = store, job_id, heartbeat
        self.last = 0.0

    def __call__(self, percent: float | None = None, message: str | None = None):
        if self.heartbeat.status != 'running':
            raise Dismissed(self.heartbeat.status)
        percent = None if percent is None else int(max(0, min(100, percent)))
        now = time.monotonic()
        if now - self.last < PROGRESS_MIN_INTERVAL:
            with self.heartbeat.lock:         # written by the next beat unless a newer one comes first
                self.heartbeat.pending = (percent, message)
            return
        self.last = now
        status = self.store.progress(self.job_id, percent, message)
        if status != 'running':
            self.heartbeat.status = status
            raise Dismissed(status)


def run_job(job_id: str, task_spec: dict, store_url: str, results_url: str,
            heartbeat_seconds: float | None = None) -> str:
    """Run one job to its end, in whatever process this is; the job's final status (or what it found).

    Importable at module level: the process pool and Dask send it by reference."""
    store, results = _stores(store_url, results_url)
    if not store.mark_running(job_id, executor_name()):
        record = store.get(job_id)
        return record.status if record else 'gone'     # dismissed before it started, or taken by another
    if heartbeat_seconds is None:
        heartbeat_seconds = float(os.environ.get('JOB_HEARTBEAT_SECONDS') or 5)
    heartbeat = _Heartbeat(store, job_id, heartbeat_seconds)
    heartbeat.start()
    try:
        outputs = load_function(task_spec['function'])(task_spec.get('args'), _Progress(store, job_id, heartbeat))
        if heartbeat.status != 'running':
            raise Dismissed(heartbeat.status)
        result = {}
        for output_id, (media_type, data) in dict(outputs or {}).items():
            result[output_id] = {'media_type': media_type, 'key': results.put(job_id, output_id, data)}
        if store.finish(job_id, 'successful', result=result):
            return 'successful'
        results.delete_job(job_id)                   # dismissed (or reaped) while the outputs were written
        record = store.get(job_id)
        return record.status if record else 'gone'
    except Dismissed as stop:
        results.delete_job(job_id)
        LOGGER.info('job %s stopped: %s', job_id, stop.status)
        return stop.status
    except Exception as error:
        LOGGER.warning('job %s failed: %s', job_id, type(error).__name__, exc_info=True)
        _cleanup(results, job_id)
        store.finish(job_id, 'failed', error=describe_error(error))
        record = store.get(job_id)
        return record.status if record else 'gone'
    except BaseException:                            # the executor itself is being stopped
        _cleanup(results, job_id)
        store.finish(job_id, 'failed', error=error_info(503, 'The executor stopped',
                                                        'the executor was stopped while it ran the job',
                                                        'ServiceUnavailable'))
        raise
    finally:
        heartbeat.stop()


def _cleanup(results, job_id: str):
    try:
        results.delete_job(job_id)
    except Exception as error:
        LOGGER.warning('job %s: its partial results could not be removed (%s)', job_id, type(error).__name__)


# -- in the web worker's process ----------------------------------------------------------------------------

class LocalExecutor:
    """A bounded pool of processes of this (web-worker) process, created at the first submission."""

    def __init__(self, settings: JobSettings, context: str = 'spawn'):
        self.settings = settings
        self.context = context
        self._pool: ProcessPoolExecutor | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._requeued: dict[str, int] = {}

    def _current_pool(self) -> ProcessPoolExecutor:
        import multiprocessing
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self._pool = ProcessPoolExecutor(max_workers=self.settings.workers,
                                                 mp_context=multiprocessing.get_context(self.context))
                self._pid = os.getpid()
            return self._pool

    def _discard(self, pool: ProcessPoolExecutor):
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def submit(self, job_id: str, spec: dict) -> Future:
        settings = self.settings
        for attempt in (1, 2):
            pool = self._current_pool()
            try:
                future = pool.submit(run_job, job_id, spec, settings.database_url, settings.results_url,
                                     settings.heartbeat_seconds)
            except (BrokenProcessPool, RuntimeError):     # broken, or shut down meanwhile: a new pool
                self._discard(pool)
                if attempt == 2:
                    raise ExecutorUnavailable('the job pool cannot start processes') from None
                continue
            future.add_done_callback(partial(self._done, job_id, spec, pool))
            return future

    def _done(self, job_id: str, spec: dict, pool: ProcessPoolExecutor, future: Future):
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self._requeued.pop(job_id, None)
            return
        if not isinstance(error, BrokenProcessPool):
            LOGGER.error('job %s: the executor failed (%s)', job_id, type(error).__name__)
            return
        # a worker process died (killed, out of memory): the pool is broken. Jobs that were running are
        # left to the reaper (their heartbeat stopped); jobs still queued never started: queue them again.
        self._discard(pool)
        try:
            store, _ = _stores(self.settings.database_url, self.settings.results_url)
            record = store.get(job_id)
            if record is None or record.status != 'accepted':
                return
            count = self._requeued.get(job_id, 0) + 1
            if count > MAX_REQUEUES:
                store.finish(job_id, 'failed', error=error_info(
                    503, 'The executor is failing', 'the job pool broke each time the job was queued',
                    'ServiceUnavailable'))
                return
            self._requeued[job_id] = count
            self.submit(job_id, spec)
        except Exception as failure:
            LOGGER.error('job %s: could not be queued again (%s)', job_id, type(failure).__name__)

    def shutdown(self, wait: bool = True):
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.shutdown(wait=wait, cancel_futures=True)


class DaskExecutor:
    """Jobs run on an existing Dask cluster; the client is created at the first submission of each process."""

    def __init__(self, settings: JobSettings, address: str | None = None, connect_timeout: float = 10):
        self.settings = settings
        self.address = address or settings.dask_scheduler_address
        self.connect_timeout = connect_timeout
        self._client = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def client(self):
        from distributed import Client
        with self._lock:
            if self._client is None or self._pid != os.getpid() or self._client.status in ('closed', 'closing'):
                try:
                    self._client = Client(self.address, set_as_default=False, timeout=self.connect_timeout)
                except Exception as error:
                    raise ExecutorUnavailable(f'the Dask scheduler does not answer ({type(error).__name__})') \
                        from None
                self._pid = os.getpid()
            return self._client

    def submit(self, job_id: str, spec: dict):
        from distributed import fire_and_forget
        settings = self.settings
        # pure=False and a key of its own: never merged with another submission; retries=0: a task lost
        # with its worker and run again finds its job no longer accepted and leaves it to the reaper
        client = self.client()
        future = client.submit(run_job, job_id, spec, settings.database_url, settings.results_url,
                               settings.heartbeat_seconds, pure=False, retries=0, key=f'kazarr-job-{job_id}')
        fire_and_forget(future)
        self._confirm(client, future.key)
        return future

    def _confirm(self, client, key: str):
        """Return only once the scheduler holds the task. The submission and its fire-and-forget leave in
        the client's background batches after `submit` returned: a web worker that died before they left
        (killed right after answering 201) lost the job, left accepted. Both travel in order on the client's
        one stream, as a rule in one batch, so once the scheduler holds the task it has read the
        fire-and-forget too (our `future` keeps the task known until then)."""
        deadline = time.monotonic() + self.connect_timeout
        pause = 0.002
        while True:
            try:
                state = client.sync(client.scheduler.get_task_status, keys=[key]).get(key)
            except Exception as error:
                raise ExecutorUnavailable(f'the Dask scheduler does not answer ({type(error).__name__})') from None
            if state is not None:
                return
            if time.monotonic() > deadline:
                raise ExecutorUnavailable(f'the Dask scheduler did not take the job within {self.connect_timeout:g} s')
            time.sleep(pause)
            pause = min(2 * pause, 0.1)

    def shutdown(self, wait: bool = True):
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._pid == os.getpid():
            client.close()


_EXECUTORS: dict[tuple, Any] = {}
_EXECUTORS_LOCK = threading.Lock()


def get_executor(settings: JobSettings | None = None):
    """The executor of `settings` (default: from the environment) for this process."""
    settings = settings or JobSettings.from_env()
    key = (os.getpid(), settings)
    with _EXECUTORS_LOCK:
        executor = _EXECUTORS.get(key)
        if executor is None:
            executor = (DaskExecutor(settings) if settings.dask_scheduler_address else LocalExecutor(settings))
            _EXECUTORS[key] = executor
        return executor


def submit(job_id: str, task_spec: dict, settings: JobSettings | None = None):
    """Run the (accepted, stored) job `job_id` outside the request; returns at once (a Future, or a Dask
    future). ExecutorUnavailable when nothing can take it: fail the job then."""
    return get_executor(settings).submit(job_id, task_spec)


def shutdown(wait: bool = True):
    """Stop this process's executors (pool processes, Dask clients)."""
    with _EXECUTORS_LOCK:
        executors = [e for (pid, _), e in _EXECUTORS.items() if pid == os.getpid()]
        _EXECUTORS.clear()
    for executor in executors:
        executor.shutdown(wait=wait)
