"""Where datasets live (a local directory or an S3 bucket) and how their bytes are read.

S3 goes through obstore: one GET per object or byte range, no HEAD before
it, timeouts and retries bounded by settings. Credentials come from the
standard AWS_* variables (none at all means anonymous access to a public
bucket) and never leave this module: error messages name the bucket and
key, never a credential.
"""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
import logging
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import obstore
from obstore.store import S3Store
from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.storage import ObjectStore

from ..metrics import S3_GET_BYTES, S3_GET_REQUESTS
from .diskcache import DiskCache, parse_size

LOGGER = logging.getLogger(__name__)
ROOT_METADATA = ('zarr.json', '.zmetadata', '.zgroup', '.zattrs')


@dataclass(frozen=True)
class Location:
    """A store or a root to discover under: `bucket` None means the local file system."""

    path: str                   # local path, or key prefix in the bucket (no leading/trailing '/')
    bucket: str | None = None
    group: str | None = None    # a child group served as its own collection (sibling resolution groups)

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None

    @property
    def name(self) -> str:
        return self.path.rstrip('/').rsplit('/', 1)[-1] or (self.bucket or '')

    @property
    def store(self) -> 'Location':
        """The store itself, whatever group of it this names."""
        return Location(self.path, self.bucket)

    def child(self, relative: str) -> 'Location':
        if self.is_s3:
            return Location('/'.join(p for p in (self.path, relative) if p), self.bucket)
        return Location(os.path.join(self.path, relative))

    def __str__(self) -> str:
        base = f's3://{self.bucket}/{self.path}' if self.is_s3 else self.path
        return f'{base}#{self.group}' if self.group else base


def parse_location(data: str, bucket: str | None = None) -> Location:
    """`s3://bucket/key`, or a path that is a prefix in `bucket` when one is given, else local."""
    data, _, group = str(data).partition('#')
    group = group or None
    if data.startswith('s3://'):
        bucket_name, _, key = data[5:].partition('/')
        return Location(key.strip('/'), bucket_name, group)
    if bucket:
        return Location(data.strip('/'), bucket, group)
    return Location(os.path.abspath(data), None, group)


@dataclass
class S3Settings:
    endpoint: str | None
    region: str
    access_key: str | None
    secret_key: str | None
    session_token: str | None
    timeout: float
    connect_timeout: float
    retries: int

    @classmethod
    def from_env(cls) -> 'S3Settings':
        env = os.environ
        return cls(
            endpoint=env.get('AWS_ENDPOINT_URL_S3') or env.get('AWS_ENDPOINT_URL') or None,
            region=env.get('AWS_DEFAULT_REGION') or env.get('AWS_REGION') or 'us-east-1',
            access_key=env.get('AWS_ACCESS_KEY_ID') or None,
            secret_key=env.get('AWS_SECRET_ACCESS_KEY') or None,
            session_token=env.get('AWS_SESSION_TOKEN') or None,
            timeout=float(env.get('S3_TIMEOUT_SECONDS') or 10),
            connect_timeout=float(env.get('S3_CONNECT_TIMEOUT_SECONDS') or 2),
            retries=int(env.get('S3_MAX_RETRIES') or 2),
        )


_CLIENTS: dict[tuple, S3Store] = {}


def s3_client(bucket: str, prefix: str | None = None, settings: S3Settings | None = None) -> S3Store:
    """One obstore client per (bucket, prefix, settings), reused for every request of the process."""
    settings = settings or S3Settings.from_env()
    key = (bucket, prefix, settings.endpoint, settings.region, settings.access_key, settings.timeout,
           settings.retries)
    client = _CLIENTS.get(key)
    if client is not None:
        return client
    config = {'region': settings.region}
    if settings.endpoint:
        config['endpoint'] = settings.endpoint
    if settings.access_key and settings.secret_key:
        config.update(access_key_id=settings.access_key, secret_access_key=settings.secret_key)
        if settings.session_token:
            config['token'] = settings.session_token
    else:
        config['skip_signature'] = True          # public bucket, anonymous
    # AWS_REQUEST_CHECKSUM_CALCULATION=when_required is what object_store does anyway: it adds no
    # request checksums (providers that reject boto3's default CRC headers work unchanged)
    client = S3Store(
        bucket,
        prefix=prefix or None,
        config=config,
        client_options={'allow_http': True, 'timeout': f'{settings.timeout}s',
                        'connect_timeout': f'{settings.connect_timeout}s'},
        retry_config={'max_retries': settings.retries,
                      'backoff': {'init_backoff': dt.timedelta(milliseconds=100),
                                  'max_backoff': dt.timedelta(seconds=1), 'base': 2},
                      'retry_timeout': dt.timedelta(seconds=settings.timeout)},
    )
    _CLIENTS[key] = client
    return client


class StorageUnavailable(Exception):
    """The object store did not answer (down, slow, refused); `reason` is `storage_reason` of the cause."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason


class StaleShardIndex(Exception):
    """A shard was rewritten after its index was remembered: the bytes located with it are not there any more."""


class ShardIndexes:
    """Shard indexes read through a store, each kept with the ETag of the shard version it belongs to.

    zarr reads a shard's index (a suffix range) before every inner chunk; remembering it makes a warm
    point read one GET. A read located with a remembered index asks for that shard version only
    (If-Match), so a rewritten shard answers 412 instead of the wrong bytes. Bounded, least recent out.
    """

    def __init__(self, capacity: int = 4096):
        self.capacity = capacity
        self._items: OrderedDict[str, tuple[int, bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, suffix: int) -> bytes | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] != suffix:
                return None
            self._items.move_to_end(key)
            return item[1]

    def etag(self, key: str) -> str | None:
        with self._lock:
            item = self._items.get(key)
            return item[2] if item else None

    def put(self, key: str, suffix: int, data: bytes, etag: str):
        with self._lock:
            self._items[key] = (suffix, data, etag)
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def forget(self, key: str):
        with self._lock:
            self._items.pop(key, None)


class S3ZarrStore(ObjectStore):
    """zarr's obstore-backed store: one GET per object or byte range, shard indexes remembered, and with a
    `DiskCache` the bytes kept on disk, served only after a conditional GET says they are current."""

    def __init__(self, client, prefix: str, cache: DiskCache | None = None):
        super().__init__(client, read_only=True)
        self.prefix = prefix
        self.cache = cache
        self.indexes = ShardIndexes()

    async def get(self, key, prototype, byte_range=None):
        suffix = byte_range.suffix if isinstance(byte_range, SuffixByteRequest) else None
        if suffix is not None:
            remembered = self.indexes.get(key, suffix)
            if remembered is not None:
                return prototype.buffer.from_bytes(remembered)
        options = _range_options(byte_range)
        expected = self.indexes.etag(key) if suffix is None else None
        if expected:
            options['if_match'] = expected
        try:
            data, etag = await self._fetch(key, options)
        except obstore.exceptions.PreconditionError:
            self.indexes.forget(key)
            raise StaleShardIndex(f'{self.prefix}/{key} changed while being read') from None
        if data is None:
            self.indexes.forget(key)
            return None
        if suffix is not None and etag:
            self.indexes.put(key, suffix, data, etag)
        return prototype.buffer.from_bytes(data)

    async def _fetch(self, key: str, options: dict) -> tuple[bytes | None, str | None]:
        """(bytes, ETag) of one GET, through the disk cache when there is one; (None, None) when absent."""
        if self.cache is None:
            try:
                return await self._get(key, options)
            except (obstore.exceptions.NotFoundError, FileNotFoundError):
                return None, None
        name = self.cache.name(f'{self.prefix}/{key}', repr(options.get('range')))
        etag = self.cache.lookup(name)
        try:
            if etag:
                options['if_none_match'] = etag
            data, new_etag = await self._get(key, options)
        except obstore.exceptions.NotModifiedError:
            cached = self.cache.read(name)
            if cached is not None:
                return cached, etag
            options.pop('if_none_match', None)
            data, new_etag = await self._get(key, options)
        except (obstore.exceptions.NotFoundError, FileNotFoundError):
            if etag:
                self.cache.forget(name)
            return None, None
        self.cache.put(name, new_etag, data)
        return data, new_etag

    async def _get(self, key: str, options: dict) -> tuple[bytes, str | None]:
        """One GET to S3 (counted in the metrics, whatever its answer): (bytes, ETag)."""
        S3_GET_REQUESTS.inc()
        response = await obstore.get_async(self.store, key, options=options)
        data = bytes(await response.bytes_async())
        S3_GET_BYTES.inc(len(data))
        return data, response.meta.get('e_tag')


def _range_options(byte_range) -> dict:
    if byte_range is None:
        return {}
    if isinstance(byte_range, RangeByteRequest):
        return {'range': (byte_range.start, byte_range.end)}
    if isinstance(byte_range, OffsetByteRequest):
        return {'range': {'offset': byte_range.offset}}
    if isinstance(byte_range, SuffixByteRequest):
        return {'range': {'suffix': byte_range.suffix}}
    raise TypeError(f'unexpected byte range {byte_range!r}')


_CACHE: DiskCache | None = None
_CACHE_KEY: tuple | None = None


def disk_cache() -> DiskCache | None:
    """The cache named by CACHE_DIR / CACHE_SIZE (default 512MB); None without CACHE_DIR."""
    global _CACHE, _CACHE_KEY
    directory = os.environ.get('CACHE_DIR')
    if not directory:
        return None
    key = (directory, os.environ.get('CACHE_SIZE', '512MB'))
    if _CACHE is None or _CACHE_KEY != key:
        _CACHE = DiskCache(directory, parse_size(key[1]))
        _CACHE_KEY = key
    return _CACHE


def zarr_store(location: Location):
    """What xarray opens: a path for local stores, a read-only obstore-backed zarr store for S3."""
    if not location.is_s3:
        return location.path
    prefixed = s3_client(location.bucket, location.path)
    return S3ZarrStore(prefixed, f's3://{location.bucket}/{location.path}', disk_cache())


def root_metadata(location: Location) -> dict[str, str]:
    """{file name: version tag} of the root metadata objects present (zarr.json, .zmetadata, ...)."""
    if not location.is_s3:
        out = {}
        for name in ROOT_METADATA:
            try:
                st = os.stat(os.path.join(location.path, name))
            except OSError:
                continue
            out[name] = f'{st.st_mtime_ns}:{st.st_size}'
        return out
    listing = list_level(location)
    return listing[1]


def list_level(location: Location) -> tuple[list[str], dict[str, str]]:
    """(child directory names, {root metadata file: etag}) of one level of a bucket prefix."""
    client = s3_client(location.bucket)
    prefix = f'{location.path}/' if location.path else None
    try:
        result = obstore.list_with_delimiter(client, prefix=prefix)
    except obstore.exceptions.BaseError as error:
        reason = storage_reason(error)
        raise StorageUnavailable(f'cannot list s3://{location.bucket}/{location.path}: {reason}', reason) from None
    children = [p.rstrip('/').rsplit('/', 1)[-1] for p in result['common_prefixes']]
    metadata = {}
    for obj in result['objects']:
        name = obj['path'].rsplit('/', 1)[-1]
        if name in ROOT_METADATA:
            metadata[name] = str(obj.get('e_tag') or obj.get('last_modified'))
    return children, metadata


def is_storage_error(error: BaseException) -> bool:
    return isinstance(error, (obstore.exceptions.BaseError, StorageUnavailable, TimeoutError, ConnectionError))


@contextmanager
def reading(location: Location):
    """Storage failing while `location` is read becomes DatasetUnavailable (503) with an honest reason, never
    its URL or credentials; every other error passes unchanged (a stale shard index is retried by the caller)."""
    from ..errors import DatasetUnavailable
    try:
        yield
    except StaleShardIndex:
        raise
    except Exception as error:
        if is_storage_error(error):
            raise DatasetUnavailable(f'cannot read {location.name}: storage {storage_reason(error)}') from error
        raise


NOT_FOUND = 'not found (bucket or key)'
ACCESS_DENIED = 'access denied (check credentials)'
TIMED_OUT = 'did not answer in time (timed out)'
UNREACHABLE = 'did not answer (unreachable)'
_DENIED_CODES = ('AccessDenied', 'SignatureDoesNotMatch', 'InvalidAccessKeyId', 'ExpiredToken', 'InvalidToken',
                 'TokenRefreshRequired', 'AllAccessDisabled', 'AuthorizationHeaderMalformed')
_STATUS = re.compile(r'status code: (\d{3})')
_CODE = re.compile(r'<Code>([A-Za-z]+)</Code>')


def storage_reason(error: BaseException) -> str:
    """A short, honest reason for a storage failure, for logs and 503 bodies.

    Read from the exception class and, for obstore's generic errors, from the HTTP status and the S3
    error code in its text; the text itself (URL with its query, response body, anything echoing a
    credential) is never returned.
    """
    chain, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        chain.append(error)
        error = error.__cause__ or error.__context__
    for item in chain:
        if isinstance(item, StorageUnavailable):
            return item.reason or 'unavailable'
        if isinstance(item, (obstore.exceptions.PermissionDeniedError, obstore.exceptions.UnauthenticatedError,
                             PermissionError)):
            return ACCESS_DENIED
        if isinstance(item, (obstore.exceptions.NotFoundError, FileNotFoundError)):
            return NOT_FOUND
        if isinstance(item, TimeoutError):
            return TIMED_OUT
        if isinstance(item, ConnectionError):
            return UNREACHABLE
        if isinstance(item, obstore.exceptions.BaseError):
            text = str(item)
            codes = _CODE.findall(text)
            status = _STATUS.search(text)
            status = int(status.group(1)) if status else None
            if any(code in _DENIED_CODES for code in codes) or status in (401, 403):
                return ACCESS_DENIED
            if any(code in ('NoSuchBucket', 'NoSuchKey') for code in codes) or status == 404:
                return NOT_FOUND
            if status is not None and status >= 500:
                return f'unavailable (HTTP {status})'
            if status is not None:
                return f'refused the request (HTTP {status})'
            if 'kind: Timeout' in text or 'TimedOut' in text:
                return TIMED_OUT
            return UNREACHABLE
    return f'failed ({type(chain[0]).__name__})' if chain else 'failed'


def _forget_after_fork():
    """obstore clients (tokio runtimes) and SQLite handles do not survive fork(): workers make their own."""
    global _CACHE, _CACHE_KEY
    _CLIENTS.clear()
    _CACHE, _CACHE_KEY = None, None


os.register_at_fork(after_in_child=_forget_after_fork)
