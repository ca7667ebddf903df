"""A catch-all against credentials in log lines: every record is redacted before any handler sees it.

`install()` wraps the log-record factory (so it covers every logger, ours, pygeoapi's, gunicorn's,
whatever handlers they have): when a record's message, exception text or stack text holds the value
of AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN, that value becomes `***`.
The code that logs storage errors already logs only the error type and a short reason; this is the
net under it.
"""
from __future__ import annotations

import logging
import os
import traceback

SECRET_VARIABLES = ('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN')
MASK = '***'
_installed = False


def secrets() -> list[str]:
    """The credential values of the environment, longest first (values shorter than 4 are ignored)."""
    values = {os.environ.get(name) or '' for name in SECRET_VARIABLES}
    return sorted((v for v in values if len(v) >= 4), key=len, reverse=True)


def redact(text: str, values: list[str] | None = None) -> str:
    for value in secrets() if values is None else values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def _redact_record(record: logging.LogRecord) -> logging.LogRecord:
    values = secrets()
    if not values:
        return record
    try:
        message = record.getMessage()
    except Exception:          # a malformed call: leave it to the formatter to report
        return record
    clean = redact(message, values)
    if clean != message or record.args:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[0] is not None:
        # the formatter uses exc_text when set: give it the redacted traceback
        text = ''.join(traceback.format_exception(*record.exc_info)).rstrip('\n')
        record.exc_text = redact(text, values)
    elif record.exc_text:
        record.exc_text = redact(record.exc_text, values)
    if record.stack_info:
        record.stack_info = redact(record.stack_info, values)
    return record


def install():
    """Idempotent: wrap the current record factory once per process."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        return _redact_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed = True
