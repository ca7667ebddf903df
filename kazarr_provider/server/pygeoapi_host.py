"""What pygeoapi needs from a snapshot, computed once when the snapshot is built (never per request):
its configuration files, an `API` object over the snapshot's config and OpenAPI document, and the JSON
documents of /collections, each collection and /conformance, merged with what we compute from the data."""
from __future__ import annotations

import os
from copy import deepcopy
from pathlib import Path

import orjson
import yaml
from werkzeug.test import EnvironBuilder

from ..api import collections as metadata
from ..api.coverages import documents as coverage_documents
from ..api.openapi import openapi_document
from ..api.processes.documents import CONFORMANCE as PROCESSES_CONFORMANCE
from ..data.catalogue import OpenDataset
from ..data.storage import Location
from ..formats import to_covjson
from ..settings import Settings
from . import pages

# html is pygeoapi's (landing page, collections), not our query answers; the 1.0 core URI is what
# the OGC test suite still looks for
EDR_CONFORMANCE = ['http://www.opengis.net/spec/ogcapi-edr-1/1.0/conf/core'] + [
    f'http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/{c}'
    for c in ('core', 'collections', 'json', 'geojson', 'covjson', 'queries', 'oas30')]
# the Coverages classes this server implements (the draft writes https://; both spellings are declared)
COVERAGES_CONFORMANCE = [f'{scheme}://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/{c}'
                         for scheme in ('http', 'https')
                         for c in ('core', 'subsetting-spatial', 'subsetting-temporal', 'subsetting-general',
                                   'scaling-spatial', 'field-selection', 'crs', 'geotiff', 'netcdf', 'coveragejson')]


def rendered(settings: Settings, config: dict, ours: dict[str, Location], opened: dict[str, OpenDataset]) -> dict:
    """The snapshot's pygeoapi parts: {openapi, pygeoapi, documents, conformance_json}."""
    from pygeoapi.api import API, conformance, describe_collections

    # our templates (offline copies of pygeoapi's, and our pages) and static folder, unless the operator set theirs
    config.setdefault('server', {}).setdefault('templates', pages.template_config())
    openapi = openapi_document(config, opened)
    api = API(deepcopy(config), openapi)
    base = f'{settings.public_url}/collections'
    documents: dict[str | None, bytes] = {}
    listing = _pygeoapi_json(api, describe_collections, '/collections')
    for collection in listing.get('collections', []):
        if collection.get('id') in ours:
            _merge(collection, base, opened[collection['id']])
    documents[None] = orjson.dumps(listing)
    for ident in ours:
        document = _pygeoapi_json(api, describe_collections, f'/collections/{ident}', ident)
        _merge(document, base, opened[ident])
        documents[ident] = orjson.dumps(document)
    classes = _pygeoapi_json(api, conformance, '/conformance')
    listed = [c for c in classes.get('conformsTo', []) if 'ogcapi-processes-1' not in c]   # ours, not pygeoapi's
    listed += [c for c in EDR_CONFORMANCE + COVERAGES_CONFORMANCE + PROCESSES_CONFORMANCE if c not in listed]
    classes['conformsTo'] = listed
    return {'openapi': openapi, 'pygeoapi': api, 'documents': documents, 'conformance_json': orjson.dumps(classes)}


def _pygeoapi_json(api, view, path: str, *args) -> dict:
    """A pygeoapi view's JSON document, asked without an HTTP request (it reads path, headers, `f`)."""
    from pygeoapi.api import APIRequest
    request = EnvironBuilder(path=path, query_string='f=json', headers={'Accept': 'application/json'}).get_request()
    _headers, _status, content = view(api, APIRequest.from_flask(request, api.locales), *args)
    return orjson.loads(content)


def _merge(collection: dict, base: str, opened: OpenDataset):
    url = f"{base}/{collection['id']}"
    collection.update(metadata.collection_document(url, opened.model, dict(opened.ds.sizes)))
    # pygeoapi advertises its own data links as JSON and HTML; ours answer CoverageJSON only
    links = []
    for link in collection.get('links', []):
        if link.get('rel') == 'data' and link.get('type') == 'text/html':
            continue
        if link.get('rel') == 'data' and link.get('type') == 'application/json':
            link = {**link, 'type': to_covjson.MEDIA_TYPE, 'href': link['href'].replace('?f=json', ''),
                    'title': link.get('title', '').replace(' as JSON', ' as CoverageJSON')}
        links.append(link)
    if coverage_documents.offers_coverage(opened.model):
        links += coverage_documents.coverage_links(url, opened.model)
        collection['extent']['spatial'].update(coverage_documents.grid_extent(opened.model))
        for key, value in coverage_documents.dimension_extents(opened.model).items():
            collection['extent'].setdefault(key, {}).update(value)
        if opened.levels:
            collection['availableResolutions'] = [list(level.cell) for level in opened.levels]
    collection['links'] = links


def write_runtime_files(snapshot, state_dir: str, openapi_path: str | None = None) -> tuple[str, str]:
    """pygeoapi's Flask module reads its config and OpenAPI from files named in the environment, at import."""
    directory = Path(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / 'pygeoapi-config.generated.yml'
    openapi_file = Path(openapi_path) if openapi_path else directory / 'openapi.generated.yml'
    _write_atomically(config_file, yaml.safe_dump(snapshot.config, sort_keys=False))
    _write_atomically(openapi_file, yaml.safe_dump(snapshot.openapi, sort_keys=False))
    return str(config_file), str(openapi_file)


def _write_atomically(path: Path, text: str):
    """Workers write the same files concurrently: each replaces them whole, none sees a half-written one."""
    partial = path.with_name(f'{path.name}.{os.getpid()}.part')
    partial.write_text(text, encoding='utf8')
    os.replace(partial, path)
