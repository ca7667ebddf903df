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

from ..convert.validate import log_findings
from ..core.model import GridModel, build_model
from ..errors import DatasetUnavailable, NotFound
from .storage import (Location, StorageUnavailable, is_storage_error, list_level, parse_location,
                      root_metadata, storage_reason, zarr_store)

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


def _walk_s3(root: Location) -> dict[str, tuple[Location, tuple]]:
    """One LIST (with delimiter) per directory level, at any depth; a store's own levels are never listed."""
    found: dict[str, tuple[Location, tuple]] = {}
    children, meta = list_level(root)
    if meta:
        return {collection_id(root.name): (root, _signature(meta))}
    pending = [root.child(c) for c in sorted(children) if not c.startswith('.')]
    while pending:
        location = pending.pop(0)
        children, meta = list_level(location)
        if meta:
            relative = location.path[len(root.path):].strip('/')
            _add(found, collection_id(relative), location, meta)
        else:
            pending.extend(location.child(c) for c in sorted(children) if not c.startswith('.'))
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
            root_attrs = dict(ds.attrs)
            levels = []
            paths = level_paths(ds.attrs)
            if paths:
                # a multiscale store is one collection: every level opened, finest first
                for path in paths:
                    level_ds = open_store(location, signature, group=path)
                    levels.append(Level(path, level_ds, build_model(level_ds, parent_attrs=ds.attrs, level=path)))
                levels.sort(key=lambda level: level.cell[0] * level.cell[1])
                ds, model = levels[0].ds, levels[0].model
            else:
                # a child group (r10m, r20m...) inherits the CRS declared on the group above it
                parent = (open_store(location, signature, group=location.group.rpartition('/')[0] or None).attrs
                          if location.group else None)
                model = build_model(ds, parent_attrs=parent)
        except (DatasetUnavailable, NotFound):
            raise
        except Exception as error:  # any reader failure: the store is unusable, say why (no URL, no secret)
            if is_storage_error(error):
                raise DatasetUnavailable(f'cannot open {location.name}: storage {storage_reason(error)}') \
                    from error
            raise DatasetUnavailable(f'cannot read dataset: {location.name} ({type(error).__name__})') from error
        opened = OpenDataset(location, ds, model, signature, levels)
        # the findings of `kazarr-provider validate`, from what was just opened (no read of its own)
        log_findings(str(location), root_attrs, [(level.name, level.ds) for level in levels] or [(None, ds)])
        _OPEN[location] = opened
        return opened


class Catalogue:
    """Discovered datasets and explicitly configured S3 stores, re-listed when `refresh` is called.

    Besides the walk under `root`, each explicit S3 store's root is listed (one LIST with a delimiter)
    so that a deleted store disappears and a changed `zarr.json` is reopened. Stores whose open failed
    for a storage reason (S3 down, slow, refusing) are remembered in `failed`, and `refresh` reports a
    change while any remain, so that the caller retries them: the server recovers by itself.
    """

    def __init__(self, root: Location | None, refresh_seconds: float = 30.0, explicit=()):
        self.root = root
        self.refresh_seconds = refresh_seconds
        self.explicit: list[Location] = [location.store for location in explicit if location.is_s3]
        self.entries: dict[str, tuple[Location, tuple]] = {}
        self.explicit_signatures: dict[Location, tuple | None] = {}   # None: not known (listing failed)
        self.failed: set[Location] = set()
        self.walk_started = 0.0          # time.monotonic() of the last walk's start and end
        self.walked_at = 0.0
        self._lock = threading.Lock()
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> bool:
        """Re-walk if due (or forced); True when a store appeared, vanished or changed, or a failed open is due
        for a retry."""
        if not force and time.monotonic() - self.walked_at < self.refresh_seconds:
            return False
        with self._lock:
            self.walk_started = time.monotonic()
            try:
                changed = self._walk()
            finally:
                self.walked_at = time.monotonic()
            stores = {location.store for location, _ in self.entries.values()} | set(self.explicit)
            self.failed = {location for location in self.failed if location.store in stores}
            if self.failed:
                LOGGER.info('retrying %d store(s) that failed to open', len(self.failed))
            return changed or bool(self.failed)

    def forget_listing(self):
        """Make the next walk report a change (its result could not be used)."""
        with self._lock:
            self.entries = {}
            self.explicit_signatures = {}

    def _walk(self) -> bool:
        changed = False
        try:
            found = discover(self.root) if self.root else {}
        except StorageUnavailable as error:
            LOGGER.warning('catalogue not refreshed, keeping the last one: %s', error)
        else:
            changed = found != self.entries
            self.entries = found
        signatures = dict(self.explicit_signatures)
        for location in self.explicit:
            try:
                signatures[location] = _signature(root_metadata(location))
            except StorageUnavailable as error:    # keep what was known: an outage is not a deletion
                LOGGER.warning('configured store not re-checked: %s', error)
                signatures.setdefault(location, None)
        changed = changed or signatures != self.explicit_signatures
        self.explicit_signatures = signatures
        return changed

    def signature(self, location: Location) -> tuple | None:
        store = location.store
        if store in self.explicit_signatures:
            return self.explicit_signatures[store]
        for found, signature in self.entries.values():
            if found == store:
                return signature
        return None

    def open(self, location: Location, signature: tuple | None = None) -> OpenDataset:
        """`get_dataset`, remembering a failure for a storage reason so that the next refresh retries it."""
        try:
            opened = get_dataset(location, signature)
        except DatasetUnavailable as error:
            if is_storage_error(error.__cause__):
                self.failed.add(location)
            else:
                self.failed.discard(location)
            raise
        except NotFound:
            self.failed.discard(location)
            raise
        self.failed.discard(location)
        return opened

    def usable(self) -> dict[str, OpenDataset]:
        """Datasets that open and have a grid; the others are logged and skipped.

        A store whose root holds no grid but whose child groups do (Sentinel-2's r10m, r20m, r60m)
        gives one collection per group, `<store id>.<group>`.
        """
        out = {}
        for ident, (location, signature) in self.entries.items():
            try:
                out[ident] = self.open(location, signature)
                continue
            except (DatasetUnavailable, NotFound) as error:
                reason = error.description
            if location in self.failed:        # storage trouble: the groups would fail alike; retried later
                LOGGER.warning('skipping %s (%s) until the next refresh: %s', ident, location, reason)
                continue
            groups = child_groups(location, signature)
            if groups is None:
                self.failed.add(location)
                LOGGER.warning('skipping %s (%s) until the next refresh: its groups could not be listed', ident,
                               location)
                continue
            for group in groups:
                grouped = Location(location.path, location.bucket, group)
                try:
                    out[f'{ident}.{collection_id(group)}'] = self.open(grouped, signature)
                except (DatasetUnavailable, NotFound) as error:
                    LOGGER.warning('skipping group %s of %s: %s', group, location, error.description)
            if not groups:
                LOGGER.warning('skipping %s (%s): %s', ident, location, reason)
        return out


def child_groups(location: Location, signature: tuple) -> list[str] | None:
    """Names of a store's child groups (from its consolidated metadata when it has some); None when the
    storage failed (try again later)."""
    import zarr
    zarr_format = 3 if any(name == 'zarr.json' for name, _ in signature) else 2
    try:
        group = zarr.open_group(zarr_store(location), mode='r', zarr_format=zarr_format)
        return sorted(str(name) for name in group.group_keys())
    except Exception as error:  # an unreadable root: nothing to offer from it
        # the type and a short reason only: an S3 error's text can echo the request and its signature
        if is_storage_error(error):
            LOGGER.debug('no child groups in %s: %s (storage %s)', location, type(error).__name__,
                         storage_reason(error))
            return None
        LOGGER.debug('no child groups in %s: %s (not a readable group)', location, type(error).__name__)
        return []


# datasets opened before a fork hold the parent's S3 clients: each worker reopens its own
os.register_at_fork(after_in_child=_OPEN.clear)
