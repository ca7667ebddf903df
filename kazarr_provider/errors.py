"""Our exceptions and the one table that maps them to HTTP status codes.

The core raises these; only the web layer turns them into responses, so the
core never needs to know about HTTP or pygeoapi.

Two kinds of error say what they are about:

* the API layer (`api/params.py`) names the request parameter it read,
  `parameter` ('coords', 'datetime', ...), and starts its message with it;
* the core names a *field* of the parsed request, one of `FIELDS` (or a custom
  dimension's own name), and words its message without any protocol's parameter
  names ("the time '2030-01-01' lies outside ..."). A web layer turns that into
  its own parameter name with `with_parameter_names(error, mapping)`, which
  sets `parameter` and prefixes the message with it, as its own errors are.
"""
from __future__ import annotations

import copy
from typing import Mapping

# The fields of a parsed request (core.query.Query) a core error can be about. A custom dimension
# (ensemble member, band, ...) is named by the dimension itself.
FIELDS = {
    'geometry': 'the requested geometry: points, radius centres, polygon or path',
    'time': 'the time asked (instant, interval or per-vertex times)',
    'vertical': 'the vertical level(s) asked',
    'distance': 'the radius around each centre',
    'width': 'the width of a corridor',
    'height': 'the height of a corridor around its path',
    'interpolation': 'the interpolation method',
    'interpolation-params': 'the interpolation method\'s parameters',
}


class KazarrError(Exception):
    """Base class: `code` is the OGC exception code put in the JSON body.

    `parameter`: the request parameter at fault (API layer). `field`: the request field at fault
    (core; see FIELDS), turned into a parameter name by `with_parameter_names`.
    """

    code = 'NoApplicableCode'

    def __init__(self, description: str, parameter: str | None = None, *, field: str | None = None):
        super().__init__(description)
        self.description = description
        self.parameter = parameter
        self.field = field

    def body(self) -> dict:
        body = {'code': self.code, 'description': self.description}
        if self.parameter:
            body['parameter'] = self.parameter
        return body


def with_parameter_names(error: KazarrError, mapping: Mapping[str, str]) -> KazarrError:
    """The error as a web layer words it: a core error's `field` becomes `mapping[field]` (the field
    itself when unmapped: custom dimensions keep their names), put in `parameter` and in front of the
    message. Errors that already name a parameter, or no field, come back unchanged (the same object).
    """
    if error.field is None or error.parameter is not None:
        return error
    parameter = mapping.get(error.field, error.field)
    named = copy.copy(error)
    # a copied exception may share the original's __dict__ (a raised one does on 3.11): give it its own
    named.__dict__ = {**error.__dict__, 'parameter': parameter, 'description': f'{parameter}: {error.description}'}
    named.args = (named.description,)
    return named


class InvalidParameter(KazarrError):
    """A query parameter is missing, malformed or names something unknown."""

    code = 'InvalidParameterValue'


class MissingParameter(InvalidParameter):
    code = 'MissingParameterValue'


class NotFound(KazarrError):
    code = 'NotFound'


class NoData(KazarrError):
    """The request is valid but selects nothing (outside the data)."""

    code = 'NoData'


class TooLarge(KazarrError):
    code = 'ResponseTooLarge'


class NotAcceptable(KazarrError):
    """No format the client accepts can be produced."""

    code = 'NotAcceptable'


class DatasetUnavailable(KazarrError):
    code = 'ServiceUnavailable'


STATUS = {
    InvalidParameter: 400,
    MissingParameter: 400,
    NotFound: 404,
    NoData: 204,
    TooLarge: 413,
    NotAcceptable: 406,
    DatasetUnavailable: 503,
}


def status_of(error: KazarrError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500
