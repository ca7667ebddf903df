"""A bounded on-disk cache of object bytes, shared by all worker processes.

Entries are keyed by (object key, byte range) and remember the object's
ETag. A cached entry is only served after the object store confirms the ETag
with a conditional GET (304 Not Modified), so a changed object is never
answered from stale bytes; what the cache saves is the transfer, not the
round trip. Least recently used entries are evicted to stay under the cap.

Every object read through the cache ends in `read` (a hit: the bytes came from disk) or `put` (a miss:
they came from the store); both are counted in the metrics.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
import threading
import time

from ..metrics import DISK_CACHE_HITS, DISK_CACHE_MISSES

LOGGER = logging.getLogger(__name__)
SIZE = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B?)?\s*$', re.IGNORECASE)
FACTORS = {'': 1, 'B': 1, 'K': 1e3, 'KB': 1e3, 'KIB': 1024, 'M': 1e6, 'MB': 1e6, 'MIB': 1024 ** 2,
           'G': 1e9, 'GB': 1e9, 'GIB': 1024 ** 3, 'T': 1e12, 'TB': 1e12, 'TIB': 1024 ** 4}


def parse_size(text: str) -> int:
    """`512MB`, `4GB`, `1.5GiB`, `1000000` -> bytes."""
    match = SIZE.match(str(text))
    if not match or (match.group(2) or '').upper() not in FACTORS:
        raise ValueError(f'CACHE_SIZE: {text!r} is not a size like 512MB or 4GB')
    return int(float(match.group(1)) * FACTORS[(match.group(2) or '').upper()])


class DiskCache:
    def __init__(self, directory: str, capacity: int):
        self.directory = directory
        self.capacity = capacity
        os.makedirs(os.path.join(directory, 'data'), exist_ok=True)
        self._local = threading.local()
        with self._db() as db:
            db.execute('CREATE TABLE IF NOT EXISTS entries (name TEXT PRIMARY KEY, etag TEXT, size INTEGER, '
                       'used REAL)')
            db.execute('CREATE INDEX IF NOT EXISTS entries_used ON entries(used)')

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, 'db', None)
        if db is None:
            db = sqlite3.connect(os.path.join(self.directory, 'index.sqlite'), timeout=30, isolation_level=None)
            db.execute('PRAGMA journal_mode=WAL')
            db.execute('PRAGMA synchronous=NORMAL')
            self._local.db = db
        return db

    @staticmethod
    def name(key: str, byte_range: str) -> str:
        return hashlib.sha256(f'{key}\0{byte_range}'.encode()).hexdigest()

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, 'data', name[:2], name)

    def lookup(self, name: str) -> str | None:
        """The ETag cached under `name`, if its bytes are on disk."""
        row = self._db().execute('SELECT etag FROM entries WHERE name = ?', (name,)).fetchone()
        if row is None or not os.path.exists(self._path(name)):
            return None
        return row[0]

    def read(self, name: str) -> bytes | None:
        try:
            with open(self._path(name), 'rb') as fh:
                data = fh.read()
        except OSError:
            return None
        self._db().execute('UPDATE entries SET used = ? WHERE name = ?', (time.time(), name))
        DISK_CACHE_HITS.inc()
        return data

    def put(self, name: str, etag: str | None, data: bytes):
        DISK_CACHE_MISSES.inc()
        if not etag or len(data) > self.capacity:
            return   # without an ETag freshness cannot be checked later: do not cache
        path = self._path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        partial = f'{path}.{os.getpid()}.{threading.get_ident()}.part'
        with open(partial, 'wb') as fh:
            fh.write(data)
        os.replace(partial, path)
        db = self._db()
        db.execute('INSERT OR REPLACE INTO entries (name, etag, size, used) VALUES (?, ?, ?, ?)',
                   (name, etag, len(data), time.time()))
        self._evict(db)

    def forget(self, name: str):
        self._db().execute('DELETE FROM entries WHERE name = ?', (name,))
        try:
            os.remove(self._path(name))
        except OSError:
            pass

    def total(self) -> int:
        return int(self._db().execute('SELECT COALESCE(SUM(size), 0) FROM entries').fetchone()[0])

    def _evict(self, db: sqlite3.Connection):
        total = int(db.execute('SELECT COALESCE(SUM(size), 0) FROM entries').fetchone()[0])
        if total <= self.capacity:
            return
        for name, size in db.execute('SELECT name, size FROM entries ORDER BY used ASC').fetchall():
            if total <= self.capacity:
                break
            self.forget(name)
            total -= size
