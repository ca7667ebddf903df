"""Where a store is written, and how an existing one is opened (for `--append` and `validate`).

Nothing half-written is ever in place: a new store is written in a hidden place the server's
catalogue walk never enters (it skips names starting with '.'): locally `.kazarr-tmp-<uuid>/NAME`
beside NAME, then renamed to NAME (with `--overwrite`, the old store is renamed aside first and
deleted after); on S3 the prefix `.NAME.tmp-<uuid>/` beside NAME/, whose keys are copied server-side to NAME/,
chunks first and metadata last (the root `zarr.json` at the very end), then the temporary prefix is
deleted. A failure deletes the temporary directory or prefix, and is reported naming the output
(`as_convert_error`).
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from pathlib import Path

import obstore
from zarr.core.buffer import default_buffer_prototype
from zarr.storage import ObjectStore

from ..data.storage import is_storage_error, parse_location, s3_client, storage_reason
from . import ConvertError

METADATA_NAMES = ('zarr.json', '.zarray', '.zgroup', '.zattrs', '.zmetadata')


class LocalTarget:
    def __init__(self, output: str, overwrite: bool = False):
        self.final = Path(output).absolute()
        self.overwrite = overwrite
        # inside a hidden directory: the catalogue walk never enters one, nor lists a store in it
        self.hidden = self.final.parent / f'.kazarr-tmp-{uuid.uuid4().hex[:12]}'
        self.tmp = self.hidden / self.final.name

    def __str__(self):
        return str(self.final)

    def exists(self) -> bool:
        return self.final.exists()

    def prepare(self):
        if self.exists() and not self.overwrite:
            raise ConvertError(f'{self.final} exists: --overwrite replaces it, --append adds time steps to it')
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self.hidden.mkdir()
            self.tmp.mkdir()
        except OSError as error:
            raise ConvertError(f'cannot write {self.final}: {error.strerror or error}') from None

    @property
    def store(self):
        return str(self.tmp)

    def commit(self):
        old = None
        if self.final.exists():
            old = self.final.parent / f'.{self.final.name}.old-{uuid.uuid4().hex[:12]}'
            os.rename(self.final, old)
        os.rename(self.tmp, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(self.hidden, ignore_errors=True)

    def abort(self):
        shutil.rmtree(self.hidden, ignore_errors=True)


class S3Target:
    def __init__(self, location, overwrite: bool = False):
        self.location = location
        self.overwrite = overwrite
        parent, _, name = location.path.rpartition('/')
        self.tmp_prefix = f'{parent}/.{name}.tmp-{uuid.uuid4().hex[:12]}'.lstrip('/')
        self.client = s3_client(location.bucket)

    def __str__(self):
        return f's3://{self.location.bucket}/{self.location.path}'

    def _keys(self, prefix: str) -> list[str]:
        return [obj['path'] for batch in obstore.list(self.client, prefix=f'{prefix}/', chunk_size=1000)
                for obj in batch]

    def exists(self) -> bool:
        try:
            for batch in obstore.list(self.client, prefix=f'{self.location.path}/', chunk_size=1):
                return bool(batch)
        except Exception as error:
            raise storage_error(self, error) from None
        return False

    def prepare(self):
        if self.exists() and not self.overwrite:
            raise ConvertError(f'{self} exists: --overwrite replaces it, --append adds time steps to it')

    @property
    def store(self):
        return ObjectStore(s3_client(self.location.bucket, self.tmp_prefix), read_only=False)

    def commit(self):
        new = self._keys(self.tmp_prefix)
        relative = [k[len(self.tmp_prefix) + 1:] for k in new]
        old = set(self._keys(self.location.path)) if self.overwrite else set()
        data = [k for k in relative if k.rsplit('/', 1)[-1] not in METADATA_NAMES]
        meta = sorted((k for k in relative if k.rsplit('/', 1)[-1] in METADATA_NAMES),
                      key=lambda k: (-k.count('/'), k))         # deepest first: the root zarr.json last
        final = self.location.path

        async def copy_all(keys):
            gate = asyncio.Semaphore(32)

            async def one(key):
                async with gate:
                    await obstore.copy_async(self.client, f'{self.tmp_prefix}/{key}', f'{final}/{key}')
            await asyncio.gather(*(one(k) for k in keys))
        asyncio.run(copy_all(data))
        asyncio.run(copy_all(meta[:-1]))
        asyncio.run(copy_all(meta[-1:]))
        stale = sorted(old - {f'{final}/{k}' for k in relative})
        for i in range(0, len(stale), 1000):
            obstore.delete(self.client, stale[i:i + 1000])
        self.abort()

    def abort(self):
        try:
            keys = self._keys(self.tmp_prefix)
            for i in range(0, len(keys), 1000):
                obstore.delete(self.client, keys[i:i + 1000])
        except Exception:  # best effort: the prefix is hidden from the catalogue anyway
            pass


def storage_error(target, error: BaseException) -> ConvertError:
    return ConvertError(f'cannot write {target}: storage {storage_reason(error)}')


def target_for(output: str, overwrite: bool = False):
    if output.startswith('s3://'):
        location = parse_location(output)
        if not location.bucket or not location.path:
            raise ConvertError(f'{output}: an S3 output is s3://bucket/prefix')
        return S3Target(location, overwrite)
    return LocalTarget(output, overwrite)


def open_store(output: str):
    """An existing store, writable in place (for --append and validate): a path, or a zarr ObjectStore on S3."""
    if output.startswith('s3://'):
        location = parse_location(output)
        return ObjectStore(s3_client(location.bucket, location.path), read_only=False)
    return str(Path(output).absolute())


def read_json(store, key: str) -> dict | None:
    """One metadata document of a store (local path or zarr store object), None if absent."""
    if isinstance(store, str):
        path = os.path.join(store, key)
        if not os.path.exists(path):
            return None
        with open(path, 'rb') as fh:
            return json.loads(fh.read())

    async def get():
        return await store.get(key, prototype=default_buffer_prototype())
    buffer = asyncio.run(get())
    return None if buffer is None else json.loads(buffer.to_bytes())


def as_convert_error(error: BaseException, target) -> BaseException:
    """A failure while writing, as a message naming the output (exceptions of other kinds pass unchanged)."""
    if isinstance(error, ConvertError):
        return error
    if isinstance(error, PermissionError) or (isinstance(error, OSError) and error.errno is not None):
        return ConvertError(f'cannot write {target}: {error.strerror or error}')
    if is_storage_error(error):
        return storage_error(target, error)
    return error
