"""Fixtures of the job tests: a real PostgreSQL on loopback, a job store on each backend, S3 (moto).

The test computations are `jobs.tasks` (tests/jobs/tasks.py): `tasks_importable` puts the tests directory
on PYTHONPATH, so that every process an executor starts, pool workers and Dask workers alike, imports them.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS_DIR = str(Path(__file__).resolve().parents[1])
BENCH_DIR = str(Path(__file__).resolve().parents[2] / 'bench')
for _path in (TESTS_DIR, BENCH_DIR):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from topology import Postgres, free_port, postgres_bin  # noqa: E402,F401  one PostgreSQL starter: the topology's


@pytest.fixture(scope='module')
def tasks_importable():
    """`jobs.tasks` importable in the processes started while the module's tests run."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('PYTHONPATH', os.pathsep.join(
            [TESTS_DIR] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p and p != TESTS_DIR]))
        yield


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
