"""The reaper: fails jobs whose executor went silent or that no executor took, and removes expired jobs.

One daemon thread per process (`start_reaper` twice gives the same thread back). Several processes or
machines each running one is harmless: every change the reaper makes is a conditional UPDATE that only
one of them wins.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import random
import threading

from .settings import JobSettings
from .store import JobStore, seconds

LOGGER = logging.getLogger(__name__)
_REAPERS: dict[int, 'Reaper'] = {}
_LOCK = threading.Lock()


class Reaper(threading.Thread):
    def __init__(self, store: JobStore, interval: float, stale_seconds: float, queue_timeout: float | None,
                 expiry: float | None):
        super().__init__(name='kazarr-job-reaper', daemon=True)
        self.store, self.interval = store, interval
        self.stale_seconds, self.queue_timeout, self.expiry = stale_seconds, queue_timeout, expiry
        self._stop_event = threading.Event()

    def run_once(self) -> tuple[list[str], list[str]]:
        """One pass: (failed job ids, expired job ids)."""
        reaped = self.store.reap(self.stale_seconds, self.queue_timeout)
        expired = self.store.expire(self.expiry) if self.expiry is not None else []
        if expired:
            LOGGER.info('expired jobs removed: %d', len(expired))
        return reaped, expired

    def run(self):
        wait = 0.0                      # a first pass at once: jobs orphaned while no server ran
        while not self._stop_event.wait(wait):
            try:
                self.run_once()
            except Exception as error:  # the database is away for a moment: next pass
                LOGGER.warning('the job reaper failed this time (%s: %s)', type(error).__name__,
                               str(error).splitlines()[0][:200] if str(error) else '')
            wait = self.interval * random.uniform(0.8, 1.2)   # processes started together spread out

    def stop(self, timeout: float | None = 5):
        self._stop_event.set()
        with _LOCK:
            if _REAPERS.get(os.getpid()) is self:
                del _REAPERS[os.getpid()]
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)


def start_reaper(store: JobStore, interval: float | dt.timedelta | None = None,
                 stale_seconds: float | dt.timedelta | None = None, *,
                 queue_timeout: float | dt.timedelta | None = None, expiry: float | dt.timedelta | None = None,
                 settings: JobSettings | None = None) -> Reaper:
    """Start this process's reaper (or give back the one running). What is not given comes from `settings`
    (default: the environment): interval ~ JOB_STALE_SECONDS / 3, JOB_STALE_SECONDS,
    JOB_QUEUE_TIMEOUT_SECONDS, JOB_EXPIRY_SECONDS."""
    with _LOCK:
        running = _REAPERS.get(os.getpid())
        if running is not None and running.is_alive():
            return running
        if None in (interval, stale_seconds, queue_timeout, expiry):
            settings = settings or JobSettings.from_env()
        reaper = Reaper(
            store,
            seconds(interval) if interval is not None else settings.reaper_interval,
            seconds(stale_seconds) if stale_seconds is not None else settings.stale_seconds,
            seconds(queue_timeout) if queue_timeout is not None else settings.queue_timeout_seconds,
            seconds(expiry) if expiry is not None else settings.expiry_seconds,
        )
        _REAPERS[os.getpid()] = reaper
        reaper.start()
        return reaper
