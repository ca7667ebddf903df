"""The job store of several machines: PostgreSQL (JOBS_DATABASE_URL=postgresql://...), through psycopg 3.

One connection per store and process, its transactions serialised by a lock (each is a statement or
two). A connection lost (server restart, network) is replaced at the next call; a transaction that
failed because of it is run again once on the new connection. The schema is created and migrated at
open, under an advisory lock.
"""
from __future__ import annotations

import logging
import os
import threading

import psycopg
from psycopg import errors

from .sql import SQLJobStore
from .store import redact_url

LOGGER = logging.getLogger(__name__)
MIGRATION_LOCK = 7_331_204_117          # pg_advisory_xact_lock key: "the kazarr jobs schema"
_INHERITED: list = []                   # connections of a parent process: never used, never closed here


class PostgresJobStore(SQLJobStore):
    _duplicate = (errors.UniqueViolation,)

    def __init__(self, url: str, connect_timeout: float = 10):
        self.url = url
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._conn: psycopg.Connection | None = None
        self._pid = os.getpid()
        self.migrate()

    def _connection(self) -> psycopg.Connection:
        if self._pid != os.getpid():
            # forked: the parent's connection is its own (closing it here would end its session)
            if self._conn is not None:
                _INHERITED.append(self._conn)
            self._conn, self._pid, self._lock = None, os.getpid(), threading.Lock()
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=int(self.connect_timeout),
                                             application_name='kazarr-jobs')
            except psycopg.OperationalError as error:
                # the message of a failed connection may quote the URL: never its password
                raise ConnectionError(f'the job database {redact_url(self.url)} is unavailable: '
                                      f'{type(error).__name__}') from None
        return self._conn

    def _transact(self, fn, write: bool = True):
        with self._lock:
            for attempt in (1, 2):
                connection = self._connection()
                try:
                    with connection.transaction():
                        return fn(lambda sql, params=(): connection.execute(sql.replace('?', '%s'), params))
                except psycopg.OperationalError:
                    if attempt == 2 or not connection.broken:
                        raise
                    LOGGER.warning('the connection to the job database was lost: reconnecting')

    def _lock_for_migration(self, execute):
        execute('SELECT pg_advisory_xact_lock(?)', (MIGRATION_LOCK,))

    def close(self):
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __repr__(self):
        return f'PostgresJobStore({redact_url(self.url)!r})'
