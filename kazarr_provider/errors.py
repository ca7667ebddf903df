"""Our exceptions and the one table that maps them to HTTP status codes.

The core raises these; only the web layer turns them into responses, so the
core never needs to know about HTTP or pygeoapi.
"""
from __future__ import annotations


class KazarrError(Exception):
    """Base class: `code` is the OGC exception code put in the JSON body."""

    code = 'NoApplicableCode'

    def __init__(self, description: str, parameter: str | None = None):
        super().__init__(description)
        self.description = description
        self.parameter = parameter

    def body(self) -> dict:
        body = {'code': self.code, 'description': self.description}
        if self.parameter:
            body['parameter'] = self.parameter
        return body


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
