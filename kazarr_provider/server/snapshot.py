"""What the server serves, kept current: the catalogue, the snapshot of collections built from it, and
the per-worker thread that re-walks it off the request path."""
from __future__ import annotations

import logging
import os
import threading
import time
from copy import deepcopy
from dataclasses import dataclass, field

from .. import logsafe
from ..api import collections as metadata
from .pygeoapi_host import rendered
from ..data.catalogue import Catalogue, OpenDataset, get_dataset
from ..errors import KazarrError, NotFound
from ..settings import Settings
from ..data.storage import Location, parse_location

LOGGER = logging.getLogger(__name__)


DEFAULT_CONFIG = {
    'server': {'bind': {'host': '127.0.0.1', 'port': 5000}, 'url': 'http://localhost:5000',
               'mimetype': 'application/json; charset=UTF-8', 'encoding': 'utf-8', 'language': 'en-US',
               'pretty_print': False, 'limits': {'default_items': 10, 'max_items': 50},
               'map': {'url': 'https://tile.openstreetmap.org/{z}/{x}/{y}.png',
                       'attribution': 'OpenStreetMap contributors'}},
    'logging': {'level': 'WARNING'},
    'metadata': {'identification': {'title': 'kazarr_provider', 'description': 'GeoZarr datasets over OGC API',
                                    'keywords': ['zarr'], 'terms_of_service': '', 'url': ''},
                 'license': {'name': 'CC-BY 4.0', 'url': 'https://creativecommons.org/licenses/by/4.0/'},
                 'provider': {'name': 'kazarr_provider', 'url': ''},
                 'contact': {'name': 'operator'}},
    'resources': {},
}


def load_base_config(path: str) -> dict:
    """Our config file with `${VAR}` / `${VAR:-default}` expanded (pygeoapi's own loader)."""
    from pygeoapi.util import yaml_load
    if not os.path.exists(path):
        LOGGER.warning('config %s not found; using built-in defaults', path)
        return deepcopy(DEFAULT_CONFIG)
    with open(path, encoding='utf8') as fh:
        return yaml_load(fh)


@dataclass(frozen=True)
class Snapshot:
    """One consistent state of the server: everything a request reads, built whole off the request path.

    The pygeoapi configuration and OpenAPI document, pygeoapi's `API` object over them, the collections we
    answer with their opened datasets and limits, and the JSON documents of /collections, each collection
    and /conformance, computed once. Requests never change it; a refresh builds another.
    """

    settings: Settings
    config: dict
    ours: dict[str, Location]
    opened: dict[str, OpenDataset]
    limits: dict[str, int]                       # collection id -> max values of one answer
    openapi: dict | None = None
    pygeoapi: object | None = None               # pygeoapi.api.API over `config` and `openapi`
    documents: dict[str | None, bytes] = field(default_factory=dict)   # collection id (None: the list) -> JSON
    conformance_json: bytes = b''

    @property
    def key(self) -> dict:
        """What makes two snapshots different: the collections, their stores and the opened datasets."""
        return {ident: (location, id(self.opened.get(ident))) for ident, location in self.ours.items()}

    def dataset(self, ident: str) -> OpenDataset:
        location = self.ours.get(ident)
        if location is None:
            raise NotFound(f'collection {ident!r} not found', 'collectionId')
        if location.is_s3:
            # opened when the snapshot was built, reopened only by a later listing: no S3 round trip here
            return self.opened[ident]
        return get_dataset(location)             # local: a few stat calls notice a rewritten store at once

    def max_values(self, ident: str) -> int:
        return self.limits.get(ident, self.settings.max_values)

    def collection_json(self, ident: str | None) -> bytes | None:
        """The JSON document of /collections (None) or of one collection; None for one not ours."""
        return self.documents.get(ident)


class AppState:
    """The catalogue and the pygeoapi config derived from it.

    The catalogue is re-walked off the request path: a daemon thread per worker process (started at
    the worker's first request, as S3 clients do not survive fork) walks every CATALOGUE_REFRESH_SECONDS,
    or when another worker asked for a refresh, and prepares a new `Snapshot` when something changed;
    a request only swaps to a prepared snapshot. POST /catalogue/refresh walks synchronously.
    """

    ON_DEMAND_MIN_INTERVAL = 2.0     # seconds between walks asked for by POST /catalogue/refresh
    TICK = 0.25                      # how often the refresh thread looks at the clock and the request token

    def __init__(self, settings: Settings):
        logsafe.install()
        self.settings = settings
        self.base = load_base_config(settings.config_path)
        root = parse_location(settings.datasets_path or '', settings.bucket) \
            if settings.datasets_path or settings.bucket else None
        self.catalogue = Catalogue(root, settings.refresh_seconds, explicit=self._configured().values())
        self._last_token = self._token_time()
        self.publish = None          # snapshot -> None: hands it to the web framework; set by create_app
        self._prepare_lock = threading.RLock()    # one walk at a time (refresh thread or POST)
        self._swap_lock = threading.Lock()        # held only to hand a snapshot over, never during a walk
        self._pending: Snapshot | None = None
        self._thread_pid: int | None = None
        self.current = self.build()

    def _configured(self) -> dict[str, Location]:
        """Explicit resources served by our provider: {collection id: store location}."""
        out = {}
        for ident, resource in (self.base.get('resources') or {}).items():
            edr = next((p for p in resource.get('providers', []) if p.get('name') == metadata.PROVIDER), None)
            if edr is not None:
                out[ident] = parse_location(str(edr['data']))
        return out

    def build(self) -> Snapshot:
        """A complete snapshot of what the catalogue lists now (cached datasets are reused)."""
        collected = self._collect()
        return Snapshot(*collected, **rendered(*collected[:4]))

    def _collect(self) -> tuple:
        """Open what the catalogue lists and derive pygeoapi's config: (settings, config, ours, opened, limits)."""
        config = deepcopy(self.base)
        config.setdefault('server', {})['url'] = self.settings.public_url
        about = config.setdefault('metadata', {}).setdefault('identification', {})
        if not str(about.get('url') or '').strip():
            # the landing page's `about` link: this API's own documentation rather than an empty href
            about['url'] = f'{self.settings.public_url}/openapi?f=html'
        config['server'].setdefault('bind', {}).update(host=self.settings.host, port=self.settings.port)
        resources = {}
        ours: dict[str, Location] = {}
        opened_all: dict[str, OpenDataset] = {}
        configured = self._configured()
        for ident, resource in (config.get('resources') or {}).items():
            if ident not in configured:
                resources[ident] = resource
                continue
            location = configured[ident]
            try:
                opened = self.catalogue.open(location, self.catalogue.signature(location))
            except KazarrError as error:
                LOGGER.warning('skipping configured collection %s: %s', ident, error.description)
                continue
            resources[ident] = metadata.pygeoapi_resource(ident, str(location), opened.model, resource)
            ours[ident] = location
            opened_all[ident] = opened
        for ident, opened in self.catalogue.usable().items():
            if ident in resources:
                LOGGER.warning('discovered %s shadowed by a configured collection of that id', opened.path)
                continue
            resources[ident] = metadata.pygeoapi_resource(ident, str(opened.location), opened.model)
            ours[ident] = opened.location
            opened_all[ident] = opened
        config['resources'] = resources
        return self.settings, config, ours, opened_all, {ident: _max_values(resources[ident], self.settings)
                                                          for ident in ours}

    def prepare(self, force: bool = True) -> Snapshot | None:
        """Walk, and when anything changed build and publish a snapshot for the next request to take."""
        with self._prepare_lock:
            if not self.catalogue.refresh(force=force):
                return None
            try:
                collected = self._collect()
                unchanged = Snapshot(*collected[:5]).key == (self._pending or self.current).key
                if unchanged:
                    return None                # a retried store failed again, or the change left us as we were
                snapshot = Snapshot(*collected, **rendered(*collected[:4]))
            except Exception:
                # the listing moved on but no snapshot was made from it: the next walk must see a change
                self.catalogue.forget_listing()
                raise
            with self._swap_lock:
                self._pending = snapshot
            return snapshot

    def take_pending(self) -> Snapshot | None:
        """The snapshot prepared since the last request, now current; None when nothing changed."""
        if self._pending is None:
            return None
        with self._swap_lock:
            snapshot, self._pending = self._pending, None
            if snapshot is not None:
                self.current = snapshot
                if self.publish is not None:
                    self.publish(snapshot)
            return snapshot

    @property
    def refresh_token(self) -> str:
        return os.path.join(self.settings.state_dir, 'refresh-requested')

    def request_refresh(self):
        """Every worker re-lists soon after: their refresh threads watch this file's mtime."""
        os.makedirs(self.settings.state_dir, exist_ok=True)
        with open(self.refresh_token, 'w') as fh:
            fh.write(str(os.getpid()))
        self._last_token = self._token_time()        # this worker walks now; its thread need not

    def _token_time(self) -> float:
        try:
            return os.stat(self.refresh_token).st_mtime
        except OSError:
            return 0.0

    def _refresh_requested(self) -> bool:
        requested = self._token_time()
        if requested > self._last_token:
            self._last_token = requested
            return True
        return False

    def refresh_on_demand(self):
        """POST /catalogue/refresh: a synchronous walk, at most one per ON_DEMAND_MIN_INTERVAL.

        A request that finds a walk started after it arrived takes that walk's result; else it waits out
        the interval since the last walk and walks (concurrent callers share that walk), so hammering the
        route costs one walk per interval, and the answer still reflects the storage as of the request.
        """
        arrived = time.monotonic()
        with self._prepare_lock:
            if self.catalogue.walk_started >= arrived:
                return
            wait = self.catalogue.walked_at + self.ON_DEMAND_MIN_INTERVAL - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self.request_refresh()
            self.prepare()

    def ensure_refresher(self):
        """Start this process's refresh thread (lazily: in the worker, never before a fork)."""
        if self._thread_pid == os.getpid():
            return
        self._thread_pid = os.getpid()
        threading.Thread(target=self._refresh_loop, name='kazarr-catalogue-refresh', daemon=True).start()

    def _refresh_loop(self):
        # walks fall on multiples of the interval in wall-clock time, so every worker of the server (each
        # with its own thread) sees a change at about the same moment instead of drifting apart
        period = max(self.catalogue.refresh_seconds, self.TICK)
        slot = int(time.time() // period)
        while True:
            time.sleep(self.TICK)
            due = int(time.time() // period) != slot
            if not (due or self._refresh_requested()):
                continue
            slot = int(time.time() // period)
            try:
                self.prepare()
            except Exception as error:  # never let the thread die; the next round tries again
                LOGGER.warning('catalogue refresh failed: %s', type(error).__name__)

    def refresh(self) -> Snapshot | None:
        """At the start of a request: the snapshot to apply when one was prepared, else None (cheap)."""
        self.ensure_refresher()
        # a vanished local store must leave at once: pygeoapi would fail to build its provider
        if self._vanished():
            with self._prepare_lock:
                # concurrent requests (threads) that saw the same vanished store walk once, not each
                if self._pending is None and self._vanished():
                    self.prepare()
        return self.take_pending()

    def _vanished(self) -> bool:
        return any(not loc.is_s3 and not os.path.isdir(loc.path) for loc in self.current.ours.values())


def _max_values(resource: dict, settings: Settings) -> int:
    """A collection's own `options.max_values` from the configuration, else the server's MAX_VALUES."""
    for provider in resource.get('providers', []):
        limit = (provider.get('options') or {}).get('max_values')
        if limit:
            return int(limit)
    return settings.max_values
