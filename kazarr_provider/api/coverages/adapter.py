"""The Coverages API over one dataset: raw request parameters and headers in, an answer or a 4xx out."""
from __future__ import annotations

from typing import Mapping

from ...data.catalogue import OpenDataset
from ...errors import NotFound
from ..negotiation import negotiate_format
from . import documents, service
from .params import parse_coverage_request


def answer_request(opened: OpenDataset, params, headers: Mapping[str, str], limit: int) -> tuple[str, bytes, dict]:
    """(media type, body, headers) for GET /collections/{id}/coverage."""
    _refuse_mesh(opened)
    fmt = negotiate_format(params.get('f'), headers.get('Accept'), service.FORMATS, service.ALIASES,
                           service.DEFAULT_FORMAT)
    request = parse_coverage_request(params, opened.model, headers.get('Prefer'))
    return service.answer(opened, request, fmt, limit)


def document(opened: OpenDataset, part: str, collection_url: str) -> dict:
    """The domain set, range type or JSON Schema of a gridded collection."""
    _refuse_mesh(opened)
    if part == 'domainset':
        return documents.domainset(opened.model)
    if part == 'rangetype':
        return documents.rangetype(opened.model)
    return documents.schema(opened.model, collection_url)


def _refuse_mesh(opened: OpenDataset):
    if not documents.offers_coverage(opened.model):
        raise NotFound(f'{opened.location.name} is an unstructured mesh: it is not offered as a coverage '
                       '(query it with EDR)', 'collectionId')
