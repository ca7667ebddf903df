"""Job settings from the environment, and the store they open."""
from __future__ import annotations

import os

import pytest

from kazarr_provider.jobs import JobSettings, open_store
from kazarr_provider.jobs.results import LocalResults
from kazarr_provider.jobs.sqlite import SQLiteJobStore


def test_defaults_live_under_the_state_dir(tmp_path):
    settings = JobSettings.from_env({'KAZARR_STATE_DIR': str(tmp_path / 'state')})
    jobs = str(tmp_path / 'state' / 'jobs')
    assert settings.state_dir == jobs
    assert settings.database_url == f'sqlite:///{jobs}/jobs.sqlite3'
    assert settings.results_url == f'{jobs}/results'
    assert (settings.workers, settings.heartbeat_seconds, settings.stale_seconds) == (2, 5, 60)
    assert (settings.queue_timeout_seconds, settings.expiry_seconds) == (6 * 3600, 7 * 86400)
    assert settings.dask_scheduler_address is None
    with open_store(settings) as store:
        assert isinstance(store, SQLiteJobStore) and isinstance(store.results, LocalResults)
        assert os.path.exists(f'{jobs}/jobs.sqlite3') and os.path.isdir(f'{jobs}/results')


def test_the_environment_chooses(tmp_path):
    settings = JobSettings.from_env({
        'JOBS_STATE_DIR': str(tmp_path / 'j'), 'JOBS_DATABASE_URL': 'postgresql://u:pw@db.example/jobs',
        'RESULTS_URL': 's3://bucket/prefix', 'JOB_WORKERS': '4', 'JOB_HEARTBEAT_SECONDS': '2',
        'JOB_STALE_SECONDS': '30', 'JOB_QUEUE_TIMEOUT_SECONDS': '600', 'JOB_EXPIRY_SECONDS': '3600',
        'DASK_SCHEDULER_ADDRESS': 'tcp://10.0.0.1:8786'}, state_dir='/ignored')
    assert settings == JobSettings(str(tmp_path / 'j'), 'postgresql://u:pw@db.example/jobs', 's3://bucket/prefix',
                                   4, 2.0, 30.0, 600.0, 3600.0, 'tcp://10.0.0.1:8786')
    assert settings.reaper_interval == 10
    with pytest.raises(SystemExit, match='JOB_WORKERS'):
        JobSettings.from_env({'JOB_WORKERS': 'two'})
    with pytest.raises(SystemExit, match='JOB_STALE_SECONDS'):
        JobSettings.from_env({'JOB_HEARTBEAT_SECONDS': '10', 'JOB_STALE_SECONDS': '5'})


def test_an_unknown_database_is_refused_without_its_password():
    with pytest.raises(ValueError) as error:
        open_store('mysql://user:hunter22@db/jobs')
    assert 'hunter22' not in str(error.value) and '***' in str(error.value)


def test_an_unreachable_postgres_is_reported_without_its_password():
    from jobs.conftest import free_port
    with pytest.raises(ConnectionError) as error:
        open_store(f'postgresql://kz:secretpw@127.0.0.1:{free_port()}/jobs')
    assert 'secretpw' not in str(error.value) and 'kz:***@127.0.0.1' in str(error.value)
