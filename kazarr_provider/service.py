"""parse -> select -> encode for one EDR query; shared by our route and the pygeoapi adapter."""
from __future__ import annotations

from .catalogue import OpenDataset
from .core.select import Block, select
from .dependencies import parse_query
from .errors import DatasetUnavailable
from .formats import ENCODERS, to_covjson
from .storage import is_storage_error


def run_query(opened: OpenDataset, query_type: str, params, max_values: int) -> tuple[list[Block], bool]:
    """The selected blocks, and whether the request was a MULTIPOINT (its answer stays multi-point)."""
    query = parse_query(query_type, params, opened.model)
    try:
        blocks = select(opened.ds, opened.model, query, max_values)
        return blocks, query.multi
    except Exception as error:
        if is_storage_error(error):
            # the object store is down or slow: say so (503), never with its URL or credentials
            raise DatasetUnavailable(f'the storage of {opened.location.name} did not answer in time; '
                                     'try again later') from error
        raise


def encoded(opened: OpenDataset, query_type: str, params, max_values: int, fmt: str):
    """(media type, bytes or an iterator of bytes) of the answer in format `fmt`."""
    blocks, multi = run_query(opened, query_type, params, max_values)
    media_type, encoder = ENCODERS[fmt]
    return media_type, encoder(blocks, opened.model, multi)


def coverage_document(opened: OpenDataset, query_type: str, params, max_values: int) -> dict:
    blocks, multi = run_query(opened, query_type, params, max_values)
    return to_covjson.build(blocks, opened.model, multi=multi)
