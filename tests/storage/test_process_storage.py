"""A process reading from an S3 that fails answers 503 with an honest reason (never a 500), synchronously
and as a job, like EDR and Coverages."""
from __future__ import annotations

import pytest

from conftest import BUCKET, FaultProxy
from kazarr_provider.api.processes import execution, tasks
from kazarr_provider.api.processes.definitions import PROCESSES
from kazarr_provider.data import storage
from kazarr_provider.data.catalogue import get_dataset
from kazarr_provider.data.storage import Location
from kazarr_provider.errors import DatasetUnavailable

SLOW_DOWN = (503, b'<Error><Code>SlowDown</Code></Error>')


@pytest.fixture
def failing_reads(moto, datasets_dir, monkeypatch):
    moto.upload(datasets_dir / 'sst_med.zarr', 'failing/sst.zarr')
    proxy = FaultProxy(moto.port)
    monkeypatch.setenv('AWS_ENDPOINT_URL', proxy.url)
    monkeypatch.setenv('S3_MAX_RETRIES', '0')
    monkeypatch.delenv('CACHE_DIR', raising=False)
    storage._CLIENTS.clear()
    opened = get_dataset(Location('failing/sst.zarr', BUCKET))     # opened while S3 answers
    proxy.rule = lambda method, path: SLOW_DOWN if method == 'GET' and '/analysed_sst/' in path else None
    yield opened
    proxy.stop()
    storage._CLIENTS.clear()


@pytest.mark.parametrize('process, inputs', [
    ('isolines', {'parameter': 'analysed_sst', 'levels': [20]}),
    ('regrid', {'bbox': [10, 36, 12, 38], 'size': [8, 8]}),
])
def test_storage_failures_are_503_with_a_reason(failing_reads, process, inputs):
    run = execution.parse_execution(PROCESSES[process], {'inputs': {'collection': 'sst', **inputs}}, None, ['sst'])
    with pytest.raises(DatasetUnavailable) as raised:
        execution.run(run, failing_reads, 10**6)
    assert 'storage' in raised.value.description and '127.0.0.1' not in raised.value.description
    with pytest.raises(DatasetUnavailable):                  # the job's task: the same reason, status 503
        tasks.run_process(tasks.task_args(run, failing_reads.location, 10**6), lambda *a: None)
