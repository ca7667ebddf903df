"""Fixtures of the job tests: a real PostgreSQL on loopback, a job store on each backend, S3 (moto).

The test computations are `jobs.tasks` (tests/jobs/tasks.py): `tasks_importable` puts the tests directory
on PYTHONPATH, so that every process an executor starts, pool workers and Dask workers alike, imports them.
"""
from __future__ import annotations

import glob
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

TESTS_DIR = str(Path(__file__).resolve().parents[1])
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)


@pytest.fixture(scope='module')
def tasks_importable():
    """`jobs.tasks` importable in the processes started while the module's tests run."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('PYTHONPATH', os.pathsep.join(
            [TESTS_DIR] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p and p != TESTS_DIR]))
        yield


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def postgres_bin() -> str | None:
    found = glob.glob('/usr/lib/postgresql/*/bin/initdb')

    def version(path):
        match = re.search(r'/postgresql/(\d+)', path)
        return int(match.group(1)) if match else 0
    return os.path.dirname(max(found, key=version)) if found else None


class Postgres:
    """A throwaway PostgreSQL server: its own data directory, a random port on 127.0.0.1, trust auth."""

    def __init__(self, bindir: str):
        self.bindir = bindir
        self.base = tempfile.mkdtemp(prefix='kz-pg-')
        self.data = os.path.join(self.base, 'data')
        self.port = free_port()
        self.user = 'kz'
        self._names = itertools.count(1)
        self.as_postgres = os.geteuid() == 0           # initdb refuses root
        if self.as_postgres:
            entry = pwd.getpwnam('postgres')
            os.chown(self.base, entry.pw_uid, entry.pw_gid)

    def _run(self, *args, timeout=60):
        command = [os.path.join(self.bindir, args[0]), *args[1:]]
        if self.as_postgres:
            command = ['runuser', '-u', 'postgres', '--', *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f'{args[0]} failed: {result.stdout}{result.stderr}')
        return result

    def start(self) -> 'Postgres':
        self._run('initdb', '-D', self.data, '-A', 'trust', '-U', self.user, '-E', 'UTF8', '--no-sync')
        options = (f'-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off '
                   '-c synchronous_commit=off -c full_page_writes=off -c max_connections=200')
        self._run('pg_ctl', '-D', self.data, '-o', options, '-l', os.path.join(self.base, 'log'), '-w', 'start')
        return self

    def stop(self):
        try:
            self._run('pg_ctl', '-D', self.data, '-m', 'immediate', '-w', 'stop', timeout=30)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def url(self, database: str = 'postgres') -> str:
        return f'postgresql://{self.user}@127.0.0.1:{self.port}/{database}'

    def new_database(self) -> str:
        import psycopg
        name = f'jobs_{next(self._names)}'
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE {name}')
        return self.url(name)


@pytest.fixture(scope='session')
def postgres():
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip('PostgreSQL is not installed (apt-get install postgresql): the PostgreSQL job store '
                    'tests are skipped')
    server = Postgres(bindir).start()
    yield server
    server.stop()


@pytest.fixture(params=['sqlite', 'postgres'])
def store_url(request, tmp_path) -> str:
    """A fresh, empty job database on each backend."""
    if request.param == 'sqlite':
        return f'sqlite:///{tmp_path}/jobs.sqlite3'
    return request.getfixturevalue('postgres').new_database()


@pytest.fixture
def results(tmp_path):
    from kazarr_provider.jobs.results import LocalResults
    return LocalResults(str(tmp_path / 'results'))


@pytest.fixture
def store(store_url, results):
    from kazarr_provider.jobs import open_store
    job_store = open_store(store_url, results=results)
    yield job_store
    job_store.close()


@pytest.fixture(scope='session')
def jobs_moto():
    """An S3 endpoint (moto_server on loopback) of the job tests' own."""
    from conftest import Moto          # the root conftest of the tests
    server = Moto().start()
    yield server
    server.stop()


@pytest.fixture
def s3_endpoint(jobs_moto, monkeypatch):
    """AWS_ENDPOINT_URL pointing at moto, for this process and the processes it starts."""
    monkeypatch.setenv('AWS_ENDPOINT_URL', jobs_moto.url)
    return jobs_moto
