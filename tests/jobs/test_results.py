"""The results store: on a directory and on S3 (moto)."""
from __future__ import annotations

import os

import pytest

from conftest import BUCKET
from kazarr_provider.errors import NotFound
from kazarr_provider.jobs.results import LocalResults, S3Results, open_results, result_key


def test_local_results(tmp_path):
    results = open_results(str(tmp_path / 'results'))
    assert isinstance(results, LocalResults)
    key = results.put('job-1', 'text', b'hello')
    assert key == 'job-1/text'
    assert results.read(key) == b'hello'
    chunks = [bytes([i]) * 1000 for i in range(5)]
    key2 = results.put('job-1', 'raw', iter(chunks))
    stream = results.open(key2)
    assert stream.size == 5000 and b''.join(stream) == b''.join(chunks)
    assert results.put('job-1', 'text', b'again') == key and results.read(key) == b'again'   # replaced whole
    results.delete_job('job-1')
    with pytest.raises(NotFound):
        results.open(key)
    results.delete_job('job-1')                               # nothing left: fine
    assert os.listdir(tmp_path / 'results') == []


def test_a_failed_write_leaves_nothing(tmp_path):
    results = LocalResults(str(tmp_path))
    results.put('job-2', 'out', b'complete')

    def broken():
        yield b'partial data'
        raise OSError('disk full')
    with pytest.raises(OSError):
        results.put('job-2', 'out', broken())
    with pytest.raises(OSError):
        results.put('job-2', 'other', broken())
    assert os.listdir(tmp_path / 'job-2') == ['out']          # no temporary file, no half result
    assert results.read('job-2/out') == b'complete'


def test_keys_stay_inside_the_store(tmp_path):
    results = LocalResults(str(tmp_path / 'r'))
    assert result_key('job', '../../etc/passwd') == 'job/%2E.%2F..%2Fetc%2Fpasswd'
    key = results.put('job', '../x', b'x')
    assert '/' not in key.split('/', 1)[1] and os.listdir(tmp_path / 'r') == ['job']
    for bad in ('../job', 'job/../../x', 'job/.hidden', 'job', '/etc/passwd'):
        with pytest.raises((NotFound, ValueError)):
            results.open(bad)
    with pytest.raises(ValueError):
        results.put('../job', 'out', b'x')
    with pytest.raises(ValueError):
        results.delete_job('..')


def test_s3_results(s3_endpoint):
    results = open_results(f's3://{BUCKET}/jobs-results')
    assert isinstance(results, S3Results)
    key = results.put('job-s3', 'text', b'hello s3')
    assert results.read(key) == b'hello s3'
    small = results.put('job-s3', 'chunks', (b'ab' for _ in range(3)))      # an iterable, small: one PUT
    assert results.open(small).read() == b'ababab'
    chunk = os.urandom(1024 * 1024)
    large = results.put('job-s3', 'large', (chunk for _ in range(7)))        # 7 MiB: a multipart upload
    stream = results.open(large)
    assert stream.size == 7 * len(chunk) and b''.join(stream) == chunk * 7
    listed = sorted(o['Key'] for o in s3_endpoint.client().list_objects_v2(
        Bucket=BUCKET, Prefix='jobs-results/job-s3/').get('Contents', []))
    assert listed == ['jobs-results/job-s3/chunks', 'jobs-results/job-s3/large', 'jobs-results/job-s3/text']

    def broken():
        yield chunk * 6
        raise OSError('the computation broke')
    with pytest.raises(Exception):
        results.put('job-s3', 'broken', broken())
    with pytest.raises(NotFound):
        results.open('job-s3/broken')                            # an aborted upload shows nothing
    results.delete_job('job-s3')
    assert s3_endpoint.client().list_objects_v2(Bucket=BUCKET, Prefix='jobs-results/job-s3/').get('KeyCount') == 0
    with pytest.raises(NotFound):
        results.open(key)
