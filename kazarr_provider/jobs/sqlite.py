"""The embedded job store: a SQLite file shared by the web workers (and job executors) of one machine.

WAL mode (readers never wait for the writer), one connection per thread and process, writes in short
`BEGIN IMMEDIATE` transactions that wait (busy timeout) rather than fail when another process writes.
"""
from __future__ import annotations

import os
import sqlite3
import threading

from .sql import SQLJobStore

BUSY_TIMEOUT_SECONDS = 30


class SQLiteJobStore(SQLJobStore):
    _duplicate = (sqlite3.IntegrityError,)

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._local = threading.local()
        connection = self._connection()
        mode = connection.execute('PRAGMA journal_mode=WAL').fetchone()[0]
        if str(mode).lower() != 'wal':           # e.g. a file system without shared memory: still correct
            import logging
            logging.getLogger(__name__).warning('the job database %s is not in WAL mode (%s)', self.path, mode)
        self.migrate()

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        if getattr(local, 'pid', None) != os.getpid():      # new thread, or a fork: a connection of its own
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
            connection.execute('PRAGMA synchronous=NORMAL')  # with WAL: durable across a process crash
            local.connection, local.pid = connection, os.getpid()
        return local.connection

    def _transact(self, fn, write: bool = True):
        connection = self._connection()
        if not write:                  # one statement in autocommit mode sees one consistent snapshot
            return fn(connection.execute)
        connection.execute('BEGIN IMMEDIATE')
        try:
            result = fn(connection.execute)
        except BaseException:
            connection.execute('ROLLBACK')
            raise
        connection.execute('COMMIT')
        return result

    def close(self):
        connection = getattr(self._local, 'connection', None)
        if connection is not None and self._local.pid == os.getpid():
            connection.close()
        self._local = threading.local()

    def __repr__(self):
        return f'SQLiteJobStore({self.path!r})'
