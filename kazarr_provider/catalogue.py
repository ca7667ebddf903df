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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from .core.model import GridModel, build_model
from .errors import DatasetUnavailable, NotFound
from .storage import (Location, StorageUnavailable, is_storage_error, list_level, parse_location,
                      root_metadata, zarr_store)

LOGGER = logging.getLogger(__name__)

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


def _signature(metadata: dict[str, str]) -> tuple:
    return tuple(sorted(metadata.items()))


def _walk_local(root: Location) -> dict[str, tuple[Location, tuple]]:
    found: dict[str, tuple[Location, tuple]] = {}
    if not os.path.isdir(root.path):
        LOGGER.warning('DATASETS_PATH %s is not a directory', root.path)
        return found
    here_meta = root_metadata(root)
    if here_meta:
        return {collection_id(root.name): (root, _signature(here_meta))}
    for current, dirs, _files in os.walk(root.path, followlinks=False):
        dirs.sort()
        keep = []
        for name in dirs:
            child = Location(os.path.join(current, name))
            meta = root_metadata(child)
            if meta:
                _add(found, collection_id(os.path.relpath(child.path, root.path)), child, meta)
            elif not name.startswith('.'):
                keep.append(name)
        dirs[:] = keep
    return found


def _walk_s3(root: Location, max_depth: int = 8) -> dict[str, tuple[Location, tuple]]:
    """One LIST (with delimiter) per directory level; chunk directories are never listed."""
    found: dict[str, tuple[Location, tuple]] = {}
    children, meta = list_level(root)
    if meta:
        return {collection_id(root.name): (root, _signature(meta))}
    pending = [(root.child(c), 1) for c in sorted(children) if not c.startswith('.')]
    while pending:
        location, depth = pending.pop(0)
        children, meta = list_level(location)
        if meta:
            relative = location.path[len(root.path):].strip('/')
            _add(found, collection_id(relative), location, meta)
        elif depth < max_depth:
            pending.extend((location.child(c), depth + 1) for c in sorted(children) if not c.startswith('.'))
    return found


def _add(found: dict, ident: str, location: Location, meta: dict):
    if ident in found:
        LOGGER.warning('collection id %s already used by %s; %s gets %s-2', ident, found[ident][0], location, ident)
        ident = f'{ident}-2'
    found[ident] = (location, _signature(meta))


def discover(root: Location | str | os.PathLike) -> dict[str, tuple[Location, tuple]]:
    """Every Zarr group store under `root` (any depth) as {collection id: (location, signature)}."""
    root = root if isinstance(root, Location) else parse_location(str(root))
    return _walk_s3(root) if root.is_s3 else _walk_local(root)


@dataclass
class Level:
    """One resolution level of a multiscale store (a child group)."""

    name: str
    ds: xr.Dataset
    model: GridModel

    @property
    def cell(self) -> tuple[float, float]:
        """Cell size along x and y, in the grid's own units."""
        return (float(np.abs(np.diff(self.model.x_axis.edges)).mean()),
                float(np.abs(np.diff(self.model.y_axis.edges)).mean()))


@dataclass
class OpenDataset:
    location: Location
    ds: xr.Dataset
    model: GridModel
    signature: tuple
    levels: list[Level] = field(default_factory=list)     # finest first; empty unless multiscale

    @property
    def path(self) -> str:
        return str(self.location)


def level_paths(attrs: dict) -> list[str] | None:
    """Child groups holding the levels: zarr-conventions `multiscales.layout` or GeoZarr 0.4 tile matrices."""
    multiscales = attrs.get('multiscales')
    if isinstance(multiscales, list) and multiscales:
        multiscales = multiscales[0]
    if not isinstance(multiscales, dict):
        return None
    if multiscales.get('layout'):
        return [str(item['asset']) for item in multiscales['layout'] if isinstance(item, dict) and 'asset' in item]
    matrices = multiscales.get('tile_matrix_set')
    if isinstance(matrices, dict) and matrices.get('tileMatrices'):
        return [str(m['id']) for m in matrices['tileMatrices']]
    if isinstance(multiscales.get('tile_matrix_limits'), dict):
        return [str(k) for k in multiscales['tile_matrix_limits']]
    return None


def open_store(location: Location, signature: tuple, group: str | None = None) -> xr.Dataset:
    """Lazy, dask-free open that names the Zarr format, so no v2 key is probed on a v3 store."""
    names = {name for name, _ in signature}
    if 'zarr.json' in names:
        zarr_format, consolidated = 3, None      # v3: consolidated metadata, if any, is inline
    else:
        zarr_format, consolidated = 2, '.zmetadata' in names
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        raw = xr.open_dataset(zarr_store(location), engine='zarr', chunks=None, consolidated=consolidated,
                              zarr_format=zarr_format, decode_times=False, decode_timedelta=False, group=group)
        # xarray's lazy time decoding reads the first and last values before the whole coordinate
        # (three GETs on S3); the raw coordinate is already in memory as the index: decode that
        return xr.decode_cf(raw, mask_and_scale=False, decode_coords=False, concat_characters=False,
                            decode_timedelta=False, use_cftime=None)


_OPEN: dict[Location, OpenDataset] = {}
_LOCK = threading.Lock()


def get_dataset(location: Location | str, signature: tuple | None = None) -> OpenDataset:
    """The opened dataset at `location`, reopened when its root metadata changed.

    Local stores are checked on every call (a few stat calls). S3 stores are checked
    against the `signature` the catalogue saw when it last listed the bucket, so a
    request costs no extra S3 round trip.
    """
    location = location if isinstance(location, Location) else parse_location(str(location))
    cached = _OPEN.get(location)
    if not location.is_s3:
        signature = _signature(root_metadata(location))
    elif signature is None and cached is not None:
        return cached
    if cached is not None and cached.signature == signature:
        return cached
    with _LOCK:
        cached = _OPEN.get(location)
        if cached is not None and cached.signature == signature:
            return cached
        try:
            if signature is None:
                signature = _signature(root_metadata(location))
            if not signature:
                _OPEN.pop(location, None)
                raise NotFound(f'dataset store is gone: {location.name}')
            ds = open_store(location, signature, group=location.group)
            levels = []
            paths = level_paths(ds.attrs)
            if paths:
                # a multiscale store is one collection: every level opened, finest first
                for path in paths:
                    level_ds = open_store(location, signature, group=path)
                    levels.append(Level(path, level_ds, build_model(level_ds)))
                levels.sort(key=lambda level: level.cell[0] * level.cell[1])
                ds, model = levels[0].ds, levels[0].model
            else:
                model = build_model(ds)
        except (DatasetUnavailable, NotFound):
            raise
        except Exception as error:  # any reader failure: the store is unusable, say why (no URL, no secret)
            kind = 'storage did not answer' if is_storage_error(error) else 'cannot read dataset'
            raise DatasetUnavailable(f'{kind}: {location.name} ({type(error).__name__})') from error
        opened = OpenDataset(location, ds, model, signature, levels)
        _OPEN[location] = opened
        return opened


class Catalogue:
    """Discovered datasets, re-listed at most every `refresh_seconds` (or when forced)."""

    def __init__(self, root: Location | None, refresh_seconds: float = 30.0):
        self.root = root
        self.refresh_seconds = refresh_seconds
        self.entries: dict[str, tuple[Location, tuple]] = {}
        self.walked_at = 0.0
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> bool:
        """Re-walk if due; True when the set of datasets (or a store's metadata) changed."""
        now = time.monotonic()
        if not force and now - self.walked_at < self.refresh_seconds:
            return False
        self.walked_at = now
        try:
            found = discover(self.root) if self.root else {}
        except StorageUnavailable as error:
            LOGGER.warning('catalogue not refreshed, keeping the last one: %s', error)
            return False
        changed = found != self.entries
        self.entries = found
        return changed

    def signature(self, location: Location) -> tuple | None:
        for found, signature in self.entries.values():
            if found == location.store:
                return signature
        return None

    def usable(self) -> dict[str, OpenDataset]:
        """Datasets that open and have a grid; the others are logged and skipped.

        A store whose root holds no grid but whose child groups do (Sentinel-2's r10m, r20m, r60m)
        gives one collection per group, `<store id>.<group>`.
        """
        out = {}
        for ident, (location, signature) in self.entries.items():
            try:
                out[ident] = get_dataset(location, signature)
                continue
            except (DatasetUnavailable, NotFound) as error:
                reason = error.description
            groups = child_groups(location, signature)
            for group in groups:
                grouped = Location(location.path, location.bucket, group)
                try:
                    out[f'{ident}.{collection_id(group)}'] = get_dataset(grouped, signature)
                except (DatasetUnavailable, NotFound) as error:
                    LOGGER.warning('skipping group %s of %s: %s', group, location, error.description)
            if not groups:
                LOGGER.warning('skipping %s (%s): %s', ident, location, reason)
        return out


def child_groups(location: Location, signature: tuple) -> list[str]:
    """Names of a store's child groups (from its consolidated metadata when it has some)."""
    import zarr
    zarr_format = 3 if any(name == 'zarr.json' for name, _ in signature) else 2
    try:
        group = zarr.open_group(zarr_store(location), mode='r', zarr_format=zarr_format)
        return sorted(str(name) for name in group.group_keys())
    except Exception as error:  # an unreadable root: nothing to offer from it
        LOGGER.debug('no child groups in %s: %s', location, error)
        return []


# datasets opened before a fork hold the parent's S3 clients: each worker reopens its own
os.register_at_fork(after_in_child=_OPEN.clear)
