"""parse -> select -> encode for one EDR query; shared by our route and the pygeoapi adapter."""
from __future__ import annotations

from .catalogue import OpenDataset
from .core.select import select
from .dependencies import parse_query
from .formats import to_covjson


def coverage_document(opened: OpenDataset, query_type: str, params, max_values: int) -> dict:
    query = parse_query(query_type, params, opened.model)
    blocks = select(opened.ds, opened.model, query, max_values)
    return to_covjson.build(blocks, opened.model, multi=query.multi)
