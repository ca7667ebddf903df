"""parse -> select -> encode for one EDR query; shared by our route and the pygeoapi adapter."""
from __future__ import annotations

from .catalogue import OpenDataset
from .core.crs import crs_uri
from .core.select import select
from .core.levels import choose_level
from .dependencies import parse_query, parse_resolution
from .errors import DatasetUnavailable, InvalidParameter
from .formats import ENCODERS, to_covjson
from .formats.to_covjson import CRS84 as CRS84_URI
from .storage import StaleShardIndex, is_storage_error, storage_reason


def run_query(opened: OpenDataset, query_type: str, params, max_values: int):
    """(blocks, whether the answer stays multi-point, the model they are on, the level name or None)."""
    try:
        return _run_query(opened, query_type, params, max_values)
    except StaleShardIndex:
        pass
    # a shard was rewritten under a remembered index (now forgotten): one more read sees the new one
    try:
        return _run_query(opened, query_type, params, max_values)
    except StaleShardIndex:
        raise DatasetUnavailable(f'{opened.location.name} is being rewritten; try again') from None


def _run_query(opened: OpenDataset, query_type: str, params, max_values: int):
    query = parse_query(query_type, params, opened.model)
    resolution = parse_resolution(params, query_type)
    if resolution and not opened.levels:
        raise InvalidParameter('resolution-x/-y/-limit: this collection has no overview levels to decimate from; '
                               'ask without them for the native resolution', next(
                                   name for name in ('resolution-x', 'resolution-y', 'resolution-limit')
                                   if params.get(name) not in (None, '')))
    level = choose_level(opened.levels, query, resolution)
    if level is None and opened.levels:
        level = opened.levels[0]
    ds, model = (level.ds, level.model) if level else (opened.ds, opened.model)
    try:
        blocks = select(ds, model, query, max_values)
        return blocks, query.multi, model, (level.name if level else None)
    except Exception as error:
        if is_storage_error(error):
            # the object store is down or slow: say so (503), never with its URL or credentials
            raise DatasetUnavailable(f'cannot read {opened.location.name}: storage {storage_reason(error)}') \
                from error
        raise


def encoded(opened: OpenDataset, query_type: str, params, max_values: int, fmt: str):
    """(media type, bytes or an iterator of bytes, response headers) of the answer in format `fmt`."""
    blocks, multi, model, level = run_query(opened, query_type, params, max_values)
    media_type, encoder = ENCODERS[fmt]
    headers = {'Kazarr-Level': level} if level is not None else {}
    if fmt == 'CoverageJSON':
        # the CRS the coordinates are in (OGC API Features Part 2 / EDR): the storage CRS when asked
        native = any(block.native_xy for block in blocks)
        crs = crs_uri(model.crs) if native else CRS84_URI
        if crs:
            headers['Content-Crs'] = f'<{crs}>'
        return media_type, to_covjson.encode(coverage_with_level(blocks, model, multi, level)), headers
    if fmt in ('GeoJSON', 'CSV'):
        headers['Content-Crs'] = f'<{CRS84_URI}>'        # these give every position as lon/lat
    return media_type, encoder(blocks, model, multi), headers


def coverage_with_level(blocks, model, multi, level) -> dict:
    document = to_covjson.build(blocks, model, multi=multi)
    if level is not None:
        document['kazarr:level'] = level          # which resolution level of the store served the answer
    return document


def coverage_document(opened: OpenDataset, query_type: str, params, max_values: int) -> dict:
    blocks, multi, model, level = run_query(opened, query_type, params, max_values)
    return coverage_with_level(blocks, model, multi, level)
