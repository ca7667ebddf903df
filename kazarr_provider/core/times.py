"""Time values as float seconds since 1970-01-01T00:00:00 in the dataset's own calendar.

For the standard (Gregorian) calendar these are ordinary Unix seconds. For CF
non-standard calendars (noleap, 360_day, ...) they count in that calendar, so
a requested instant is converted with the same calendar before comparing.
"""
from __future__ import annotations

import datetime as dt

import cftime
import numpy as np

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
UNITS = 'seconds since 1970-01-01 00:00:00'
STANDARD = {None, 'standard', 'gregorian', 'proleptic_gregorian'}


def calendar_of(values: np.ndarray) -> str | None:
    """None for datetime64 (standard calendar), else the cftime calendar name."""
    values = np.asarray(values)
    if values.dtype.kind == 'M' or values.size == 0:
        return None
    calendar = getattr(values.flat[0], 'calendar', None)
    return None if calendar in STANDARD else calendar


def to_epoch_seconds(values: np.ndarray, calendar: str | None = None) -> np.ndarray:
    """Decoded time coordinate (datetime64 or cftime objects) to seconds since 1970 in its calendar."""
    values = np.asarray(values)
    if values.dtype.kind == 'M':
        return values.astype('datetime64[ns]').astype('int64').astype('float64') / 1e9
    return np.asarray(cftime.date2num(list(values.ravel()), UNITS, calendar=calendar or 'standard'),
                      dtype='float64')


def iso(seconds: np.ndarray, calendar: str | None = None) -> list[str]:
    """Seconds since 1970 to RFC 3339 strings with a Z suffix (fractions only when present)."""
    out = []
    for s in np.atleast_1d(seconds):
        if calendar:
            stamp = cftime.num2date(float(s), UNITS, calendar=calendar)
            text = f'{stamp.year:04d}-{stamp.month:02d}-{stamp.day:02d}T{stamp.hour:02d}:{stamp.minute:02d}:' \
                   f'{stamp.second:02d}'
            fraction = stamp.microsecond
        else:
            stamp = EPOCH + dt.timedelta(seconds=float(s))
            text = stamp.strftime('%Y-%m-%dT%H:%M:%S')
            fraction = stamp.microsecond
        if fraction:
            text += f'.{fraction:06d}'.rstrip('0')
        out.append(text + 'Z')
    return out


class NotInCalendar(ValueError):
    """A well-formed date the dataset's calendar does not have (2000-02-29 in noleap)."""


def parse_instant(text: str, calendar: str | None = None) -> float:
    """RFC 3339 / ISO 8601 instant to seconds since 1970 in `calendar`; naive is UTC. Raises ValueError."""
    text = text.strip()
    if not text:
        raise ValueError('empty datetime')
    if text[-1] in 'zZ':
        text = text[:-1] + '+00:00'
    if calendar:
        return _calendar_instant(text, calendar)
    stamp = dt.datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return (stamp - EPOCH).total_seconds()


def _calendar_instant(text: str, calendar: str) -> float:
    """Dates valid in the calendar but not in Gregorian (2001-02-30 in 360_day) are parsed by hand."""
    date, _, clock = text.replace(' ', 'T').partition('T')
    offset = 0.0
    for sign in ('+', '-'):
        if sign in clock:
            clock, _, zone = clock.partition(sign)
            hours, _, minutes = zone.partition(':')
            offset = (1 if sign == '+' else -1) * (int(hours) * 3600 + int(minutes or 0) * 60)
    year, month, day = (int(p) for p in date.split('-'))
    parts = [float(p) for p in clock.split(':')] if clock else []
    hour, minute, second = (parts + [0.0, 0.0, 0.0])[:3]
    if not (0 <= hour < 24 and 0 <= minute < 60 and 0 <= second < 61):
        raise ValueError('time of day out of range')
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise ValueError('month or day out of range')      # malformed in any calendar
    try:
        stamp = cftime.datetime(year, month, day, int(hour), int(minute), int(second),
                                int(round((second % 1) * 1e6)), calendar=calendar)
    except Exception:    # cftime raises ValueError or its own types for dates the calendar lacks
        raise NotInCalendar(f'{date} is not a date of the dataset\'s {calendar} calendar') from None
    return float(cftime.date2num(stamp, UNITS, calendar=calendar)) - offset
