"""OGC API – Coverages request parameters -> one frozen `CoverageRequest`, or a 400 naming the parameter.

Pure: a mapping of raw query strings (a value or a list of values per name, or a Werkzeug MultiDict),
the collection's `GridModel` and the raw `Prefer` header in; no HTTP or Flask. Decisions (the draft
OGC API – Coverages 1.0 where it says, what GDAL and OWSLib send where it does not):

* `subset` values, repeated or comma-joined, are one list of axes; an axis twice (under any of its
  names) is refused. Names: see `axes.coverage_axes` and `declarations.py`.
* Spatial names pick the coordinates' CRS family (draft: subset-crs "SHALL be ignored" when no subset
  names one of its axes): Lon/Lat are in `subset-crs` when it is geographic (CRS84 or EPSG:4326,
  same values: names, not positions, say which is which), else CRS84; E/N are in `subset-crs` when it is
  projected, else the storage CRS (the draft would refuse E/N without a projected subset-crs; taking the
  storage CRS is what someone writing E(300000:400000) means). Mixing the two families is refused.
* Longitude `lo > hi` (Lon, or a geographic bbox west > east) crosses the antimeridian and is kept as
  given (`AxisSubset.crosses_antimeridian`), like EDR's bbox; every other `lo > hi` is refused.
* `time(*)` slices at the latest step (resolved here from the model); `*` alone on another axis is refused.
  Interval ends cover their last given component (`time("2024-07-01":"2024-07-31")` includes all of
  the 31st); `datetime` follows the same rules (hence not `api.params.parse_datetime`, whose ends are exact).
* Slices of a numeric custom dimension (ensemble member) must be values it has, text dimensions'
  labels too; spatial, time and vertical slices are positions (the executor picks the cell).
* Scaling: one style per request. `scale-factor` applies to the spatial axes not sliced; any other
  scaling of a sliced axis is refused. `resolution` axis names must match the output CRS (Lat/Lon in
  degrees, E/N in its units); sizes and factors name either family. Only spatial axes scale.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

from ...core.model import GridModel
from ...core.times import NotInCalendar
from ..params import number
from .axes import (CoverageAxis, CrsChoice, axis_names, axis_table, coverage_axes, crs84_choice,
                   parse_crs_choice, storage_choice)
from .grammar import AxisSpec, Token, bad, one, parse_time, split_axes, values, values_of
from .scaling import Scaling, parse_scaling

__all__ = ['AxisSubset', 'CoverageRequest', 'CrsChoice', 'Scaling', 'parse_coverage_request', 'parse_prefer']


@dataclass(frozen=True)
class AxisSubset:
    """What a request asks of one axis: a trim (interval), a slice (one value) or a multi-slice (several)."""

    name: str                   # the prescribed axis name: Lon, Lat, E, N, time, else the dimension's own
    dim: str                    # the model's dimension
    role: str                   # x | y | t | z | custom
    interval: tuple | None = None   # trim (lo, hi), inclusive, None = open end (*). x/y: floats in the
                                    # request's subset_crs (x = longitude or easting); t: seconds since
                                    # 1970 in the data's calendar; z and numeric custom: floats; text: labels
    values: tuple | None = None     # slicing: one value (the axis is dropped); multi-slicing: several (kept)
    text: str = ''                  # as written (`Lat(40:45)`, `bbox=...`, `datetime=...`), for messages

    def __post_init__(self):
        if (self.interval is None) == (self.values is None):
            raise ValueError('an AxisSubset is either an interval or values')

    @property
    def kind(self) -> str:
        if self.interval is not None:
            return 'trim'
        return 'slice' if len(self.values) == 1 else 'multi-slice'

    @property
    def crosses_antimeridian(self) -> bool:
        """A longitude trim with lo > hi: lo eastwards across 180 to hi."""
        lo, hi = self.interval if self.interval is not None else (None, None)
        return self.role == 'x' and lo is not None and hi is not None and lo > hi


@dataclass(frozen=True)
class CoverageRequest:
    """One coverage request, resolved against the collection. Axes left out (None) are not restricted."""

    x: AxisSubset | None = None             # longitude / easting
    y: AxisSubset | None = None             # latitude / northing
    time: AxisSubset | None = None          # from subset=time(...) or datetime
    vertical: AxisSubset | None = None      # the vertical dimension (by its name or z)
    custom: Mapping[str, AxisSubset] = field(default_factory=dict)   # other dimensions, by dimension name
    subset_crs: CrsChoice | None = None     # CRS of x/y's coordinates (subset-crs, bbox-crs, or implied by
                                            # the axis names); None when neither x nor y is subset
    spatial_from: str | None = None         # 'subset' or 'bbox': the parameter x/y came from
    crs: CrsChoice | None = None            # output CRS (crs; default the storage CRS, CRS84 on lon/lat grids)
    scaling: Scaling | None = None          # None: native resolution (lenient may still downsample)
    fields: tuple[str, ...] = ()            # fields (bands) in answer order: properties, all but
                                            # exclude-properties, or every field of the collection
    strict: bool = False                    # Prefer: handling=strict: 413 over the limit, never downsample

    def __post_init__(self):
        object.__setattr__(self, 'custom', MappingProxyType(dict(self.custom)))
        object.__setattr__(self, 'fields', tuple(self.fields))

    @property
    def subsets(self) -> tuple[AxisSubset, ...]:
        """Every axis asked, x, y, time, vertical, then the custom dimensions."""
        return tuple(s for s in (self.x, self.y, self.time, self.vertical, *self.custom.values()) if s)

    @property
    def sliced(self) -> tuple[str, ...]:
        """Dimensions sliced to one value: absent from the answer."""
        return tuple(s.dim for s in self.subsets if s.kind == 'slice')


def parse_coverage_request(params: Mapping[str, str | list[str]], model: GridModel,
                           prefer: str | None = None) -> CoverageRequest:
    """Every value worked out and checked against `model`, then the frozen request built once."""
    fields = _fields(params, model)
    output = _crs_param(params, 'crs', model) or storage_choice(model)
    found: dict = {}            # role ('x', 'y', 't', 'z') or ('custom', dim) -> AxisSubset
    subset_crs, spatial_from = _subsets(params, model, found)
    bbox = one(params, 'bbox')
    if bbox is not None and bbox.strip():
        if 'x' in found or 'y' in found:
            given = ', '.join(found[role].text for role in 'xy' if role in found)
            raise bad('bbox', f'give either bbox or a spatial subset ({given}), not both')
        subset_crs = _crs_param(params, 'bbox-crs', model) or crs84_choice(model)
        found['x'], found['y'] = _bbox(bbox, subset_crs, model)
        spatial_from = 'bbox'
    datetime = one(params, 'datetime')
    if datetime is not None and datetime.strip():
        if 't' in found:
            raise bad('datetime', f'give either datetime or subset={found["t"].text}, not both')
        found['t'] = _datetime(datetime.strip(), model)
    sliced = {role for role in 'xy' if role in found and found[role].values is not None}
    scaling = parse_scaling(params, model, output, sliced)
    custom = {key[1]: subset for key, subset in found.items() if isinstance(key, tuple)}
    return CoverageRequest(x=found.get('x'), y=found.get('y'), time=found.get('t'), vertical=found.get('z'),
                           custom=custom, subset_crs=subset_crs, spatial_from=spatial_from, crs=output,
                           scaling=scaling, fields=fields, strict=parse_prefer(prefer))


def _crs_param(params, name: str, model: GridModel) -> CrsChoice | None:
    text = one(params, name)
    return parse_crs_choice(text, name, model) if text is not None and text.strip() else None


def parse_prefer(prefer: str | None) -> bool:
    """True for `Prefer: handling=strict` (RFC 7240; other preferences and unknown values are ignored)."""
    for preference in str(prefer or '').split(','):
        name, _, value = preference.split(';')[0].partition('=')
        if name.strip().lower() == 'handling':
            value = value.strip().strip('"').strip().lower()
            if value in ('strict', 'lenient'):
                return value == 'strict'
    return False


def _fields(params, model: GridModel) -> tuple[str, ...]:
    every = tuple(model.variables)
    chosen = {}
    for name in ('properties', 'exclude-properties'):
        text = one(params, name)
        if text is not None and text.strip():
            names = [n.strip() for n in text.split(',') if n.strip()]
            unknown = [n for n in names if n not in model.variables]
            if unknown:
                raise bad(name, f'unknown field(s) {", ".join(unknown)}; this collection has {", ".join(every)}')
            chosen[name] = tuple(dict.fromkeys(names))
    if len(chosen) == 2:
        raise bad('exclude-properties', 'give either properties or exclude-properties, not both')
    if 'properties' in chosen:
        return chosen['properties']
    kept = tuple(n for n in every if n not in chosen.get('exclude-properties', ()))
    if not kept:
        raise bad('exclude-properties', 'every field is excluded; leave at least one')
    return kept


def _subsets(params, model: GridModel, found: dict) -> tuple[CrsChoice | None, str | None]:
    """`subset` (repeated and/or comma-joined) into `found`: by role, custom dimensions by ('custom', dim)."""
    specs = [spec for text in values(params, 'subset') if text.strip() for spec in split_axes(text, 'subset')]
    if not specs:
        return None, None
    asked = _crs_param(params, 'subset-crs', model)
    axes = coverage_axes(model, projected=asked is not None and not asked.geographic)
    table = axis_table(axes)
    resolved: list[tuple[AxisSpec, CoverageAxis]] = []
    seen: dict[str, AxisSpec] = {}
    for spec in specs:
        axis = table.get(spec.name)
        if axis is None:
            raise bad('subset', f'unknown axis {spec.name!r}; this collection\'s axes are {axis_names(axes)}')
        key = ('custom', axis.dim) if axis.role == 'custom' else axis.role
        if key in seen:
            raise bad('subset', f'{axis.name} given twice ({seen[key].text} and {spec.text}); give each axis once')
        seen[key] = spec
        resolved.append((spec, axis))
    families = {axis.family for _, axis in resolved if axis.family}
    if len(families) > 1:
        raise bad('subset', 'mixes geographic (Lon/Lat) and projected (E/N) axis names; name both spatial axes '
                            'in the CRS of their coordinates')
    crs = None
    if families:
        geographic = families == {'geographic'}
        if asked is not None and asked.geographic == geographic:
            crs = asked                             # else subset-crs names none of the axes used: ignored
        else:
            crs = crs84_choice(model) if geographic else storage_choice(model)
    for spec, axis in resolved:
        key = ('custom', axis.dim) if axis.role == 'custom' else axis.role
        found[key] = _subset(spec, axis, model, crs)
    return crs, ('subset' if families else None)


def _subset(spec: AxisSpec, axis: CoverageAxis, model: GridModel, crs: CrsChoice | None) -> AxisSubset:
    instant = (lambda text: _is_instant(text, model.calendar)) if axis.role == 't' else None
    kind, tokens = values_of(spec, 'subset', instant)
    make = dict(name=axis.name, dim=axis.dim, role=axis.role, text=spec.text)
    if kind == 'interval':
        lo, hi = (None if token.star else _value(token, axis, spec, model, crs, end=i == 1)
                  for i, token in enumerate(tokens))
        _check_order(lo, hi, axis, spec, model, crs)
        return AxisSubset(interval=(lo, hi), **make)
    if any(token.star for token in tokens):
        if axis.role == 't' and len(tokens) == 1:
            return AxisSubset(values=(float(np.nanmax(model.t_seconds)),), **make)     # time(*): the latest
        raise bad('subset', f'{spec.text}: * is an open end of an interval (lo:*), or time(*) for the latest '
                            'time step')
    points = tuple(_value(token, axis, spec, model, crs) for token in tokens)
    if axis.role == 'custom' and not axis.labels:
        known = np.asarray(model.custom[axis.dim].values, dtype='float64')
        missing = [v for v in points if not np.isclose(known, v, rtol=1e-9, atol=1e-12).any()]
        if missing:
            raise bad('subset', f'{spec.text}: {axis.dim} has no value {", ".join(f"{v:g}" for v in missing)}; '
                                f'it has {", ".join(f"{v:g}" for v in known[:20])}')
    return AxisSubset(values=points, **make)


def _is_instant(text: str, calendar: str | None) -> bool:
    try:
        parse_time(text, calendar)
        return True
    except ValueError:
        return False


def _value(token: Token, axis: CoverageAxis, spec: AxisSpec, model: GridModel, crs: CrsChoice | None,
           end: bool = False):
    if axis.role == 't':
        try:
            return parse_time(token.text, model.calendar, end)
        except NotInCalendar as error:
            raise bad('subset', f'{spec.text}: {error}') from None
        except ValueError:
            raise bad('subset', f'{spec.text}: {token.text!r} is not an RFC 3339 instant, e.g. '
                                'time("2024-07-01T06:00:00Z") or time("2024-07-01")') from None
    if axis.labels:
        labels = [str(v) for v in model.custom[axis.dim].values]
        if token.text not in labels:
            raise bad('subset', f'{spec.text}: {axis.dim} has no value {token.text!r}; it has '
                                f'{", ".join(labels[:20])}')
        return token.text
    try:
        value = float(token.text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise bad('subset', f'{spec.text}: {token.text!r} is not a finite number')
    if axis.role in ('x', 'y') and crs is not None and crs.geographic:
        limit = 90.0 if axis.role == 'y' else 360.0
        if abs(value) > limit:
            raise bad('subset', f'{spec.text}: {"latitudes" if axis.role == "y" else "longitudes"} lie in '
                                f'[-{limit:g}, {limit:g}]')
    return value


def _check_order(lo, hi, axis: CoverageAxis, spec: AxisSpec, model: GridModel, crs: CrsChoice | None):
    if lo is None or hi is None:
        return
    if axis.role == 'x' and crs is not None and crs.geographic:
        return                                                  # lo > hi crosses the antimeridian
    if axis.labels:
        labels = [str(v) for v in model.custom[axis.dim].values]
        lo, hi = labels.index(lo), labels.index(hi)
    if lo > hi:
        raise bad('subset', f'{spec.text}: the low end is above the high end (lo:hi)')


def _bbox(text: str, crs: CrsChoice, model: GridModel) -> tuple[AxisSubset, AxisSubset]:
    parts = text.split(',')
    if len(parts) == 6:
        raise bad('bbox', 'six numbers give a height range, which these coverages do not have; give four, and '
                          'levels as subset=<vertical axis>(lo:hi)')
    if len(parts) != 4:
        raise bad('bbox', f'expected four comma-separated numbers, got {len(parts)}')
    numbers = [number(part, 'bbox') for part in parts]
    if crs.lat_first:
        south, west, north, east = numbers            # EPSG:4326: latitude first
    else:
        west, south, east, north = numbers
    if crs.geographic:
        if not (-90 <= south <= 90 and -90 <= north <= 90):
            raise bad('bbox', 'latitudes must lie in [-90, 90]' + (' (EPSG:4326 order: south,west,north,east)'
                                                                   if crs.lat_first else ''))
        if not (-360 <= west <= 360 and -360 <= east <= 360):
            raise bad('bbox', 'longitudes must lie in [-360, 360]')
    elif west > east:
        raise bad('bbox', f'minx {west:g} is above maxx {east:g}')
    if south > north:
        raise bad('bbox', f'the south (min y) edge {south:g} is above the north (max y) edge {north:g}')
    names = ('Lon', 'Lat') if crs.geographic else ('E', 'N')
    return (AxisSubset(names[0], model.x, 'x', interval=(west, east), text=f'bbox={text}'),
            AxisSubset(names[1], model.y, 'y', interval=(south, north), text=f'bbox={text}'))


def _datetime(text: str, model: GridModel) -> AxisSubset:
    if model.t is None:
        raise bad('datetime', 'this collection has no time axis; drop datetime')
    parts = text.split('/')
    try:
        if len(parts) == 1:
            points, interval = (parse_time(text, model.calendar),), None
        elif len(parts) == 2:
            lo, hi = (None if part.strip() in ('', '..') else parse_time(part, model.calendar, end=i == 1)
                      for i, part in enumerate(parts))
            if lo is None and hi is None:
                raise ValueError
            if lo is not None and hi is not None and lo > hi:
                raise bad('datetime', f'{text!r} ends before it starts')
            points, interval = None, (lo, hi)
        else:
            raise ValueError
    except NotInCalendar as error:
        raise bad('datetime', str(error)) from None
    except ValueError:
        raise bad('datetime', f'{text!r} is malformed; expected an RFC 3339 instant (2024-07-01T06:00:00Z, '
                              "2024-07-01) or an interval 'start/end' with '..' for an open end") from None
    return AxisSubset('time', model.t, 't', interval=interval, values=points, text=f'datetime={text}')

