"""parse -> select -> encode for one EDR query; shared by our route and the pygeoapi adapter."""
from __future__ import annotations

from dataclasses import dataclass

from ..data.catalogue import OpenDataset
from ..core.crs import crs_uri
from ..core.select.dispatch import select
from ..core.levels import choose_level, unmet_limit
from ..core.model import GridModel
from .edr.parse import parse_query
from ..errors import DatasetUnavailable, InvalidParameter, KazarrError, with_parameter_names
from ..formats import ENCODERS, to_covjson
from ..formats.to_covjson import CRS84 as CRS84_URI
from ..data.storage import StaleShardIndex, reading


# the EDR parameter each field of a request (errors.FIELDS) comes from; custom dimensions keep their names
EDR_PARAMETERS = {
    'geometry': 'coords',
    'time': 'datetime',
    'vertical': 'z',
    'distance': 'within',
    'width': 'corridor-width',
    'height': 'corridor-height',
    'interpolation': 'interpolation',
    'interpolation-params': 'interpolation-params',
}


@dataclass
class Selection:
    """What a query selected, before encoding."""

    blocks: list
    multi: bool                  # the answer stays a multi-point domain (MULTIPOINT asked)
    model: GridModel             # the grid the blocks are on (a level's, for multiscale stores)
    level: str | None = None     # the multiscale level that served it
    notice: str | None = None    # what the answer could not do as asked (said, never silent)


def run_query(opened: OpenDataset, query_type: str, params, max_values: int) -> Selection:
    try:
        return _run_query_once(opened, query_type, params, max_values)
    except KazarrError as error:
        # the core names fields of the request; a client is told the EDR parameter it gave
        named = with_parameter_names(error, EDR_PARAMETERS)
        if named is error:
            raise
        raise named.with_traceback(error.__traceback__) from None


def _run_query_once(opened: OpenDataset, query_type: str, params, max_values: int) -> Selection:
    try:
        return _run_query(opened, query_type, params, max_values)
    except StaleShardIndex:
        pass
    # a shard was rewritten under a remembered index (now forgotten): one more read sees the new one
    try:
        return _run_query(opened, query_type, params, max_values)
    except StaleShardIndex:
        raise DatasetUnavailable(f'{opened.location.name} is being rewritten; try again') from None


def _run_query(opened: OpenDataset, query_type: str, params, max_values: int) -> Selection:
    query = parse_query(query_type, params, opened.model)
    resolution = query.resolution
    if resolution and not opened.levels:
        raise InvalidParameter('resolution-x/-y/-limit: this collection has no overview levels to decimate from; '
                               'ask without them for the native resolution', f'resolution-{next(iter(resolution))}')
    level = choose_level(opened.levels, query, resolution)
    if level is None and opened.levels:
        level = opened.levels[0]
    ds, model = (level.ds, level.model) if level else (opened.ds, opened.model)
    with reading(opened.location):
        selected = select(ds, model, query, max_values)
    return Selection(list(selected.blocks), selected.multi, model, level.name if level else None,
                     unmet_limit(level, query, resolution) if level else None)


def encoded(opened: OpenDataset, query_type: str, params, max_values: int, fmt: str):
    """(media type, bytes or an iterator of bytes, response headers) of the answer in format `fmt`."""
    selection = run_query(opened, query_type, params, max_values)
    media_type, encoder = ENCODERS[fmt]
    headers = {}
    if selection.level is not None:
        headers['Kazarr-Level'] = selection.level
    if selection.notice:
        headers['Kazarr-Notice'] = selection.notice
    if fmt == 'CoverageJSON':
        # the CRS the coordinates are in (OGC API Features Part 2 / EDR): the storage CRS when asked
        native = any(block.native_xy for block in selection.blocks)
        crs = crs_uri(selection.model.crs) if native else CRS84_URI
        if crs:
            headers['Content-Crs'] = f'<{crs}>'
        return media_type, to_covjson.encode(coverage(selection)), headers
    if fmt in ('GeoJSON', 'CSV'):
        headers['Content-Crs'] = f'<{CRS84_URI}>'        # these give every position as lon/lat
    return media_type, encoder(selection.blocks, selection.model, selection.multi), headers


def coverage(selection: Selection) -> dict:
    document = to_covjson.build(selection.blocks, selection.model, multi=selection.multi)
    if selection.level is not None:
        document['kazarr:level'] = selection.level     # which resolution level of the store served the answer
    if selection.notice:
        document['kazarr:notice'] = selection.notice
    return document


def coverage_document(opened: OpenDataset, query_type: str, params, max_values: int) -> dict:
    return coverage(run_query(opened, query_type, params, max_values))
