"""Find Zarr stores, give them collection ids, open each once per process.

pygeoapi builds a provider object on every request; the opened xarray
dataset and its `GridModel` live here instead, keyed by store path, and are
reopened only when the store's root metadata changes on disk.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import xarray as xr

from .core.model import GridModel, build_model
from .errors import DatasetUnavailable, NotFound

LOGGER = logging.getLogger(__name__)

ROOT_METADATA = ('zarr.json', '.zmetadata', '.zgroup', '.zattrs')
UNSAFE = re.compile(r'[^A-Za-z0-9._-]+')


def collection_id(relative: str) -> str:
    """Store path relative to the root -> collection id.

    `.zarr` suffixes are dropped, path separators become `.`, and any run of
    characters outside `A-Z a-z 0-9 . _ -` becomes `_`: `era5/pl 2024.zarr`
    -> `era5.pl_2024`. Ids never contain `/` or `..`, so they cannot escape
    the root.
    """
    parts = [p[:-5] if p.lower().endswith('.zarr') else p for p in Path(relative).parts]
    ident = '.'.join(UNSAFE.sub('_', p).strip('._') or '_' for p in parts)
    return ident or 'dataset'


def is_zarr_root(path: Path) -> bool:
    return (path / 'zarr.json').is_file() or (path / '.zgroup').is_file() or (path / '.zmetadata').is_file()


def discover(root: str | os.PathLike) -> dict[str, str]:
    """Every Zarr group store under `root` (any depth) as {collection id: path}."""
    root = Path(root)
    found: dict[str, str] = {}
    if not root.is_dir():
        LOGGER.warning('DATASETS_PATH %s is not a directory', root)
        return found
    if is_zarr_root(root):
        found[collection_id(root.name)] = str(root)
        return found
    for current, dirs, _files in os.walk(root, followlinks=False):
        dirs.sort()
        here = Path(current)
        keep = []
        for name in dirs:
            child = here / name
            if is_zarr_root(child):
                ident = collection_id(str(child.relative_to(root)))
                if ident in found:
                    LOGGER.warning('collection id %s already used by %s; %s gets %s-2',
                                   ident, found[ident], child, ident)
                    ident = f'{ident}-2'
                found[ident] = str(child)
            elif not name.startswith('.'):
                keep.append(name)
        dirs[:] = keep
    return found


def store_signature(path: str) -> tuple:
    sig = []
    for name in ROOT_METADATA:
        try:
            st = os.stat(os.path.join(path, name))
        except OSError:
            continue
        sig.append((name, st.st_mtime_ns, st.st_size))
    return tuple(sig)


@dataclass
class OpenDataset:
    path: str
    ds: xr.Dataset
    model: GridModel
    signature: tuple


def open_store(path: str) -> xr.Dataset:
    """Lazy, dask-free open: indexing then reads only the chunks it touches."""
    with warnings.catch_warnings():
        # unconsolidated v2 stores make xarray warn before falling back: expected, not news
        warnings.simplefilter('ignore', RuntimeWarning)
        return xr.open_dataset(path, engine='zarr', chunks=None, consolidated=None,
                               decode_timedelta=False)


_OPEN: dict[str, OpenDataset] = {}
_LOCK = threading.Lock()


def get_dataset(path: str) -> OpenDataset:
    """The opened dataset at `path`, reopened if its metadata changed since."""
    signature = store_signature(path)
    cached = _OPEN.get(path)
    if cached is not None and cached.signature == signature:
        return cached
    with _LOCK:
        cached = _OPEN.get(path)
        if cached is not None and cached.signature == signature:
            return cached
        if not signature and not os.path.isdir(path):
            _OPEN.pop(path, None)
            raise NotFound(f'dataset store is gone: {os.path.basename(path)}')
        try:
            ds = open_store(path)
            model = build_model(ds)
        except DatasetUnavailable:
            raise
        except Exception as error:  # any reader failure: the store is unusable, say why
            raise DatasetUnavailable(f'cannot read dataset {os.path.basename(path)}: '
                                     f'{type(error).__name__}') from error
        opened = OpenDataset(path, ds, model, signature)
        _OPEN[path] = opened
        return opened


class Catalogue:
    """Discovered datasets, re-walked at most every `refresh_seconds`."""

    def __init__(self, root: str | None, refresh_seconds: float = 30.0):
        self.root = root
        self.refresh_seconds = refresh_seconds
        self.paths: dict[str, str] = {}
        self.walked_at = 0.0
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> bool:
        """Re-walk if due; True when the set of datasets changed."""
        now = time.monotonic()
        if not force and now - self.walked_at < self.refresh_seconds:
            return False
        self.walked_at = now
        found = discover(self.root) if self.root else {}
        changed = found != self.paths
        self.paths = found
        return changed

    def usable(self) -> dict[str, OpenDataset]:
        """Datasets that open and have a grid; the others are logged and skipped."""
        out = {}
        for ident, path in self.paths.items():
            try:
                out[ident] = get_dataset(path)
            except (DatasetUnavailable, NotFound) as error:
                LOGGER.warning('skipping %s (%s): %s', ident, path, error.description)
        return out
