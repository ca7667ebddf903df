"""Where the results of jobs are kept: a (shared) directory or S3 (RESULTS_URL=s3://bucket/prefix).

A result is one object per job and output, its key `<job_id>/<output_id>`. A result is never seen half
written: on disk it is written under a temporary name and renamed; on S3 it is one PUT, or a multipart
upload that only shows the object once complete. S3 goes through the project's obstore client
(`data.storage.s3_client`: endpoint, region and credentials from the AWS_* variables).
"""
from __future__ import annotations

import abc
import itertools
import os
import shutil
import uuid
from typing import Iterable, Iterator
from urllib.parse import quote

from ..errors import NotFound
from .store import check_job_id

CHUNK = 1024 * 1024
MULTIPART_THRESHOLD = 5 * 1024 * 1024


def result_key(job_id: str, output_id: str) -> str:
    check_job_id(job_id)
    if not output_id or not isinstance(output_id, str):
        raise ValueError(f'invalid output id {output_id!r}')
    name = quote(output_id, safe='-_.~')
    if name.startswith('.'):                 # never '.', '..' nor a name like our temporary files
        name = '%2E' + name[1:]
    return f'{job_id}/{name}'


def _split(key: str) -> tuple[str, str]:
    job_id, _, name = key.partition('/')
    check_job_id(job_id)
    if not name or '/' in name or name.startswith('.'):
        raise NotFound(f'no result {key!r}')
    return job_id, name


class ResultStream:
    """The bytes of a result, read chunk by chunk as it is iterated; `size` in bytes (None: unknown)."""

    def __init__(self, chunks: Iterator[bytes], size: int | None, close=None):
        self._chunks = chunks
        self.size = size
        self._close = close

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        finally:
            self.close()

    def read(self) -> bytes:
        return b''.join(self)

    def close(self):
        if self._close is not None:
            self._close()
            self._close = None


class ResultStore(abc.ABC):
    @abc.abstractmethod
    def put(self, job_id: str, output_id: str, data: bytes | Iterable[bytes]) -> str:
        """Store one output of a job (bytes, or an iterable of byte chunks); its key."""

    @abc.abstractmethod
    def open(self, key: str) -> ResultStream:
        """The result of `key` as a stream (NotFound when there is none: expired, dismissed, never written)."""

    def read(self, key: str) -> bytes:
        return self.open(key).read()

    @abc.abstractmethod
    def delete_job(self, job_id: str) -> None:
        """Remove every result of a job (nothing to remove is fine)."""


class LocalResults(ResultStore):
    """Results in a directory: local, or shared between machines (NFS and the like)."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)
        self.url = self.root

    def put(self, job_id, output_id, data) -> str:
        key = result_key(job_id, output_id)
        directory = os.path.join(self.root, job_id)
        os.makedirs(directory, exist_ok=True)
        final = os.path.join(self.root, key)
        temporary = os.path.join(directory, f'.{uuid.uuid4().hex}.part')
        try:
            with open(temporary, 'wb') as file:
                for chunk in ([data] if isinstance(data, (bytes, bytearray, memoryview)) else data):
                    file.write(chunk)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, final)
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise
        return key

    def open(self, key) -> ResultStream:
        job_id, name = _split(key)
        try:
            file = open(os.path.join(self.root, job_id, name), 'rb')
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f'no result {key!r} (it expired, was dismissed or was never written)') from None
        size = os.fstat(file.fileno()).st_size
        return ResultStream(iter(lambda: file.read(CHUNK), b''), size, file.close)

    def delete_job(self, job_id) -> None:
        check_job_id(job_id)
        directory = os.path.join(self.root, job_id)
        if not os.path.isdir(directory):
            return
        # renamed away first, so that a reader never sees half the outputs of a job
        doomed = os.path.join(self.root, f'.{job_id}.{uuid.uuid4().hex}.deleted')
        try:
            os.rename(directory, doomed)
        except FileNotFoundError:
            return
        shutil.rmtree(doomed, ignore_errors=True)

    def __repr__(self):
        return f'LocalResults({self.root!r})'


class S3Results(ResultStore):
    def __init__(self, bucket: str, prefix: str = '', settings=None):
        from ..data.storage import S3Settings, s3_client
        self.bucket = bucket
        self.prefix = prefix.strip('/')
        self.client = s3_client(bucket, self.prefix or None, settings or S3Settings.from_env())
        self.url = f's3://{bucket}/{self.prefix}'.rstrip('/')

    def put(self, job_id, output_id, data) -> str:
        import obstore
        key = result_key(job_id, output_id)
        if isinstance(data, (bytes, bytearray, memoryview)):
            obstore.put(self.client, key, bytes(data), use_multipart=len(data) > MULTIPART_THRESHOLD)
            return key
        # an iterable: small ones in one PUT, large ones in a multipart upload (visible only once complete)
        chunks, head, size = iter(data), [], 0
        for chunk in chunks:
            head.append(bytes(chunk))
            size += len(chunk)
            if size > MULTIPART_THRESHOLD:
                obstore.put(self.client, key, itertools.chain(head, (bytes(c) for c in chunks)),
                            use_multipart=True, chunk_size=MULTIPART_THRESHOLD, max_concurrency=4)
                return key
        obstore.put(self.client, key, b''.join(head), use_multipart=False)
        return key

    def open(self, key) -> ResultStream:
        import obstore
        from obstore.exceptions import NotFoundError
        _split(key)
        try:
            answer = obstore.get(self.client, key)
        except (NotFoundError, FileNotFoundError):
            raise NotFound(f'no result {key!r} (it expired, was dismissed or was never written)') from None
        return ResultStream(iter(answer.stream(min_chunk_size=CHUNK)), answer.meta.get('size'))

    def delete_job(self, job_id) -> None:
        import obstore
        check_job_id(job_id)
        paths = [meta['path'] for batch in obstore.list(self.client, prefix=f'{job_id}/') for meta in batch]
        if paths:
            obstore.delete(self.client, paths)

    def __repr__(self):
        return f'S3Results({self.url!r})'


def open_results(url: str) -> ResultStore:
    """s3://bucket/prefix, file:///path or a directory path."""
    url = str(url)
    if url.startswith('s3://'):
        bucket, _, prefix = url[5:].partition('/')
        if not bucket:
            raise ValueError(f'RESULTS_URL: no bucket in {url!r}')
        return S3Results(bucket, prefix)
    if url.startswith('file://'):
        url = url[len('file://'):]
    elif '://' in url:
        raise ValueError(f'RESULTS_URL: unsupported scheme in {url!r} (s3://bucket/prefix or a directory)')
    return LocalResults(url)
