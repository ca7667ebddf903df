"""parse -> select -> encode for one EDR query; shared by our route and the pygeoapi adapter."""
from __future__ import annotations

from .catalogue import OpenDataset
from .core.select import select
from .dependencies import parse_query
from .errors import DatasetUnavailable
from .formats import to_covjson
from .storage import is_storage_error


def coverage_document(opened: OpenDataset, query_type: str, params, max_values: int) -> dict:
    query = parse_query(query_type, params, opened.model)
    try:
        blocks = select(opened.ds, opened.model, query, max_values)
    except Exception as error:
        if is_storage_error(error):
            # the object store is down or slow: say so (503), never with its URL or credentials
            raise DatasetUnavailable(f'the storage of {opened.location.name} did not answer in time; '
                                     'try again later') from error
        raise
    return to_covjson.build(blocks, opened.model, multi=query.multi)
