"""Chunk reads are concurrent: through a proxy that holds every chunk GET for 50 ms, a read spanning
several chunks starts them all within one delay (one round trip), not one after the other.

Judged by when the proxy saw each GET start, not by wall-clock targets: a sequential reader cannot
start a GET before the previous one (held 50 ms) has answered.
"""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from conftest import BUCKET, FaultProxy
from kazarr_provider import demo
from kazarr_provider.api.coverages.adapter import answer_request
from kazarr_provider.api.service import coverage_document
from kazarr_provider.data import storage
from kazarr_provider.data.catalogue import get_dataset
from kazarr_provider.data.storage import Location

DELAY = 0.05
METADATA = ('zarr.json', '.zarray', '.zattrs', '.zgroup', '.zmetadata')


@pytest.fixture
def slow_s3(moto, monkeypatch):
    """An S3 endpoint whose chunk GETs each wait DELAY seconds; yields the start times it saw."""
    proxy = FaultProxy(moto.port)
    starts: list[float] = []
    lock = threading.Lock()

    def rule(method, path):
        key = path.split('?')[0].rsplit('/', 1)[-1]
        if method == 'GET' and '?' not in path and key not in METADATA:     # a chunk, v2 or v3
            with lock:
                starts.append(time.monotonic())
            return DELAY
        return None
    proxy.rule = rule
    monkeypatch.setenv('AWS_ENDPOINT_URL', proxy.url)
    monkeypatch.delenv('CACHE_DIR', raising=False)
    storage._CLIENTS.clear()
    yield starts
    proxy.stop()
    storage._CLIENTS.clear()


def _most_started_within_one_delay(starts: list[float]) -> int:
    starts = sorted(starts)
    return max(sum(1 for s in starts[i:] if s - first < DELAY) for i, first in enumerate(starts))


def test_a_coverage_window_over_eight_chunks_costs_one_round_trip(moto, datasets_dir, slow_s3):
    moto.upload(datasets_dir / 'sst_med.zarr', 'concurrent/sst_cov.zarr')
    opened = get_dataset(Location('concurrent/sst_cov.zarr', BUCKET))
    slow_s3.clear()
    # the whole 160 x 420 grid of one day: 2 x 4 chunks of 80 x 105
    media, body, headers = answer_request(opened, {'f': 'CoverageJSON', 'datetime': '2024-07-01T00:00:00Z'},
                                          {}, 10**6)
    assert media == 'application/vnd.cov+json'
    assert len(slow_s3) == 8, slow_s3
    assert _most_started_within_one_delay(slow_s3) == 8


def test_an_edr_series_reads_its_time_steps_concurrently(moto, datasets_dir, slow_s3):
    moto.upload(datasets_dir / 'era5' / 'pressure_levels.zarr', 'concurrent/era5.zarr')
    opened = get_dataset(Location('concurrent/era5.zarr', BUCKET))
    slow_s3.clear()
    # one point, 4 steps x 5 levels of t: 20 chunks (chunked one step and one level each)
    document = coverage_document(opened, 'position', {'coords': 'POINT(10 45)', 'parameter-name': 't'}, 10**6)
    # one coverage per level (a vertical profile of each time series): 5 x 4 values
    values = np.array([c['ranges']['t']['values'] for c in document['coverages']], dtype='float64')
    assert values.size == 20 and np.isfinite(values).all()
    assert len(slow_s3) == 20, slow_s3
    # zarr fetches up to its concurrency limit (10) at once: at most two waves, never twenty
    assert _most_started_within_one_delay(slow_s3) >= 10
