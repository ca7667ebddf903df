"""Time values as float seconds since 1970-01-01T00:00:00Z, whatever the calendar."""
from __future__ import annotations

import datetime as dt

import numpy as np

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def to_epoch_seconds(values: np.ndarray) -> np.ndarray:
    """Decoded time coordinate (datetime64 or cftime objects) to epoch seconds."""
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.datetime64):
        ns = values.astype('datetime64[ns]').astype('int64').astype('float64')
        return ns / 1e9
    # cftime: non-standard calendars; their dates are reported as written
    return np.array([
        (dt.datetime(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond,
                     tzinfo=dt.timezone.utc) - EPOCH).total_seconds()
        for v in values.ravel()
    ], dtype='float64')


def iso(seconds: np.ndarray) -> list[str]:
    """Epoch seconds to RFC 3339 strings with a Z suffix (whole seconds when exact)."""
    out = []
    for s in np.atleast_1d(seconds):
        stamp = EPOCH + dt.timedelta(seconds=float(s))
        text = stamp.strftime('%Y-%m-%dT%H:%M:%S')
        if stamp.microsecond:
            text += f'.{stamp.microsecond:06d}'.rstrip('0')
        out.append(text + 'Z')
    return out


def parse_instant(text: str) -> float:
    """RFC 3339 / ISO 8601 instant to epoch seconds; naive times are UTC. Raises ValueError."""
    text = text.strip()
    if not text:
        raise ValueError('empty datetime')
    if text[-1] in 'zZ':
        text = text[:-1] + '+00:00'
    stamp = dt.datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return (stamp - EPOCH).total_seconds()
