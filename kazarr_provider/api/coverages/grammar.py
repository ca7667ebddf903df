"""The text of coverage parameters: raw values, the `axis(...)` grammar, the draft's time instants.

Pure text: no model, no HTTP. `values`/`one` read a parameter from the request mapping; `split_axes`
reads `Lat(40:45),time("2024-07-01"),pressure(200,500)` into `AxisSpec`s; `values_of` says whether one is an interval (`lo:hi`) or points (`v` or `v1,v2,...`);
`parse_time` reads an instant with the draft's reduced precision, hour 24 and end-of-interval rules.
Every error is an `InvalidParameter` naming the parameter it was read from.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ...core.times import parse_instant
from ...errors import InvalidParameter
from ..declarations import AXIS_NAME

NAME = re.compile(AXIS_NAME)
DAY = 86400.0
END_EPSILON = 1e-6          # an interval end covers its last component up to, not including, the next one
# RFC 3339 with trailing components left out (2024, 2024-07, 2024-07-01T06, ...), hour 24, and no zone = UTC
_INSTANT = re.compile(r'(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[Tt ](\d{2})(?::(\d{2})(?::(\d{2})(\.\d+)?)?)?)?)?)?'
                      r'\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?')


def bad(parameter: str, message: str) -> InvalidParameter:
    return InvalidParameter(f'{parameter}: {message}', parameter)


def values(params, name: str) -> list[str]:
    """Every value given for `name`: `params` maps names to a string or a list of strings (or is a
    Werkzeug MultiDict, read with getlist)."""
    if hasattr(params, 'getlist'):
        raw = params.getlist(name)
    else:
        raw = params.get(name)
        raw = [] if raw is None else list(raw) if isinstance(raw, (list, tuple)) else [raw]
    return [str(value) for value in raw]


def one(params, name: str) -> str | None:
    """A single-valued parameter; repeated with different values -> 400."""
    given = values(params, name)
    if len({value.strip() for value in given}) > 1:
        raise bad(name, f'given {len(given)} times with different values; give it once')
    return given[0] if given else None


@dataclass(frozen=True)
class Token:
    """One value between the brackets, stripped: a number or bare word, a double-quoted text, or *."""

    text: str                   # without its quotes
    quoted: bool = False

    @property
    def star(self) -> bool:
        return not self.quoted and self.text == '*'


@dataclass(frozen=True)
class AxisSpec:
    """One `name(body)` as written; `parts` are the comma-separated parts, each split at its colons."""

    name: str
    text: str                                   # `name(body)`, for messages
    parts: tuple[tuple[Token, ...], ...] = ()   # () for an empty body: `Lat()`

    @property
    def empty(self) -> bool:
        return not self.parts


def split_axes(text: str, parameter: str) -> list[AxisSpec]:
    """`a(...),b(...)` -> one AxisSpec each; commas and colons inside double quotes are text."""
    specs: list[AxisSpec] = []
    i, n = 0, len(text)
    while True:
        start = text.find('(', i)
        if start < 0:
            raise bad(parameter, f'expected axis(...), got {text[i:].strip()!r}')
        name = text[i:start].strip()
        if not NAME.fullmatch(name):
            raise bad(parameter, f'{name!r} is not an axis name: expected axis(...) with the axis name '
                                 'starting with a letter, e.g. Lat(40:45)')
        k, quoted = start + 1, False
        while k < n and (quoted or text[k] not in '()'):
            quoted ^= text[k] == '"'
            k += 1
        if quoted:
            raise bad(parameter, f'{text[i:].strip()!r}: a double quote is not closed')
        if k >= n:
            raise bad(parameter, f'{text[i:].strip()!r}: the bracket is not closed')
        if text[k] == '(':
            raise bad(parameter, f'{text[i:k + 1].strip()!r}: brackets do not nest; expected axis(lo:hi), '
                                 'axis(value) or axis(v1,v2,...)')
        body = text[start + 1:k]
        specs.append(AxisSpec(name, f'{name}({body})', _parts(body, name, parameter)))
        rest = text[k + 1:].lstrip()
        if not rest:
            return specs
        if rest[0] != ',':
            raise bad(parameter, f'expected a comma after {name}({body}), got {rest!r}')
        i = n - len(rest) + 1
        if not text[i:].strip():
            raise bad(parameter, f'{text.strip()!r} ends with a comma')


def _parts(body: str, name: str, parameter: str) -> tuple[tuple[Token, ...], ...]:
    if not body.strip():
        return ()
    parts: list[tuple[Token, ...]] = []
    pieces: list[Token] = []
    current: list[str] = []
    quoted = False
    for char in body + ',':
        if char == '"':
            quoted = not quoted
        if quoted or char not in ',:':
            current.append(char)
            continue
        pieces.append(_token(''.join(current), name, body, parameter))
        current = []
        if char == ',':
            parts.append(tuple(pieces))
            pieces = []
    return tuple(parts)


def _token(raw: str, name: str, body: str, parameter: str) -> Token:
    raw = raw.strip()
    if not raw:
        raise bad(parameter, f'{name}({body}): a value is empty')
    if raw.startswith('"'):
        if len(raw) < 2 or not raw.endswith('"') or '"' in raw[1:-1]:
            raise bad(parameter, f'{name}({body}): {raw!r} is not one double-quoted text')
        return Token(raw[1:-1].strip(), True)
    if '"' in raw:
        raise bad(parameter, f'{name}({body}): {raw!r} has a stray double quote')
    return Token(raw)


def values_of(spec: AxisSpec, parameter: str,
              instant: Callable[[str], bool] | None = None) -> tuple[str, tuple[Token, ...]]:
    """('interval', (lo, hi)) for `lo:hi`, ('points', values) for `v` or `v1,v2,...`.

    On a time axis (`instant` tells whether a text is one) an unquoted instant may hold colons:
    `time(2024-07-01T06:00:00Z)` and `time(2024-07-01T00:00Z:2024-07-02T00:00Z)` (as OWSLib sends them)
    are read by finding the one way of grouping the colon-separated pieces into instants.
    """
    if spec.empty:
        raise bad(parameter, f'{spec.text}: give a value, lo:hi or v1,v2,...')
    parts = spec.parts if instant is None else tuple(_regroup(part, instant) for part in spec.parts)
    if len(parts) == 1 and len(parts[0]) == 2:
        return 'interval', parts[0]
    if all(len(part) == 1 for part in parts):
        return 'points', tuple(part[0] for part in parts)
    hint = '; double-quote instants that hold colons' if instant is not None else ''
    raise bad(parameter, f'{spec.text}: expected lo:hi (an interval), a value, or v1,v2,... (slices){hint}')


def _regroup(pieces: tuple[Token, ...], instant: Callable[[str], bool]) -> tuple[Token, ...]:
    if len(pieces) < 2 or any(p.quoted for p in pieces):
        return pieces
    def ok(text: str) -> bool:
        return text == '*' or instant(text)

    if len(pieces) == 2 and all(ok(p.text) for p in pieces):
        return pieces
    texts = [p.text for p in pieces]
    whole = ':'.join(texts)
    if instant(whole):
        return (Token(whole),)
    splits = [(':'.join(texts[:i]), ':'.join(texts[i:])) for i in range(1, len(texts))]
    found = [(lo, hi) for lo, hi in splits if ok(lo) and ok(hi)]
    return (Token(found[0][0]), Token(found[0][1])) if len(found) == 1 else pieces


def parse_time(text: str, calendar: str | None = None, end: bool = False) -> float:
    """An instant -> seconds since 1970 in the data's calendar. Raises ValueError (NotInCalendar too).

    Omitted trailing components are 0 (`2024-07` is 2024-07-01T00:00:00Z), a missing zone is UTC, hour
    24 (no minutes or seconds) is 00 of the next day. As the `end` of an interval, an instant covers its
    smallest given component: `2024-07-31` ends at 23:59:59.999999, `2024-07` at the last instant of July,
    `T24:00` just before the next day; an instant with a fraction of a second is taken exactly.
    """
    match = _INSTANT.fullmatch(text.strip())
    if match is None:
        return parse_instant(text, calendar)           # other ISO 8601 spellings (basic format ...): exact
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    zone = _zone(zone)
    hour24 = hour == '24'
    if hour24:
        if (minute or '00') != '00' or (second or '00') != '00' or (fraction and float(fraction)):
            raise ValueError('hour 24 takes no minutes or seconds')
        hour = '00'

    def at(y: int, mo: int, d: int, clock: str) -> float:
        return parse_instant(f'{y:04d}-{mo:02d}-{d:02d}T{clock}{zone}', calendar)

    y, mo, d = int(year), int(month or 1), int(day or 1)
    start = at(y, mo, d, f'{hour or "00"}:{minute or "00"}:{second or "00"}{fraction or ""}')
    if hour24:
        return start + DAY - (END_EPSILON if end else 0.0)
    if not end or fraction:
        return start
    if hour is not None:
        return start + (1.0 if second else 60.0 if minute else 3600.0) - END_EPSILON
    if day is not None:
        return start + DAY - END_EPSILON
    following = at(y, mo + 1, 1, '00:00:00') if month is not None and mo < 12 else at(y + 1, 1, 1, '00:00:00')
    return following - END_EPSILON


def _zone(zone: str | None) -> str:
    if zone is None or zone in 'Zz':
        return 'Z'
    digits = zone[1:].replace(':', '')
    return f'{zone[0]}{digits[:2]}:{digits[2:] or "00"}'
