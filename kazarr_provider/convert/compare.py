"""Whether two datasets can be joined along time (inputs with each other, or an input with a store), and
times as they are named in messages and in the history.

Both the reader (joining its inputs) and `--append` (an input onto a store) ask `differences`; the
grid module asks `calendar_name` for the calendar it writes.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from ..core.axes import find_axes
from ..core.times import calendar_of

STANDARD_CALENDARS = {'standard', 'gregorian', 'proleptic_gregorian'}


def iso_time(value) -> str:
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value, unit='s')) + 'Z'
    return value.isoformat() if hasattr(value, 'isoformat') else str(value)


def calendar_name(ds: xr.Dataset, t: str | None) -> str | None:
    if not t:
        return None
    calendar = ds[t].encoding.get('calendar') or calendar_of(ds[t].values) or 'proleptic_gregorian'
    return str(calendar).lower()


def same_calendar(a: str | None, b: str | None) -> bool:
    if a in STANDARD_CALENDARS and b in STANDARD_CALENDARS:
        return True          # the same days after 1582-10-15
    return a == b


def _horizontal(ds: xr.Dataset):
    axes = find_axes(ds)
    return axes.get('x'), axes.get('y')


def on_grid_variables(ds: xr.Dataset, x: str | None, y: str | None, chosen=None) -> dict[str, tuple]:
    names = chosen or [n for n in ds.data_vars]
    return {str(n): tuple(map(str, ds[n].dims)) for n in names
            if n in ds and x in ds[n].dims and y in ds[n].dims and ds[n].dtype.kind in 'fiub'}


def differences(a: xr.Dataset, b: xr.Dataset, t: str | None, chosen, name_a: str, name_b: str) -> list[str]:
    """What makes `b` impossible to join with `a` along time: grid, variables, other axes, calendar."""
    found = []
    xa, ya = _horizontal(a)
    xb, yb = _horizontal(b)
    if (xa, ya) != (xb, yb):
        return [f'the grid differs: x/y axes ({xa}, {ya}) in {name_a}, ({xb}, {yb}) in {name_b}']
    for dim in (xa, ya):
        va, vb = np.asarray(a[dim].values, 'float64'), np.asarray(b[dim].values, 'float64')
        step = abs(float(np.diff(va).mean())) if va.size > 1 else 1.0
        if va.size != vb.size or not np.allclose(va, vb, rtol=0, atol=step * 1e-4):
            found.append(f'the grid differs: {dim} has {va.size} values from {va[0]:g} to {va[-1]:g} in {name_a}, '
                         f'{vb.size} from {vb[0]:g} to {vb[-1]:g} in {name_b}')
    va_, vb_ = on_grid_variables(a, xa, ya, chosen), on_grid_variables(b, xb, yb, chosen)
    only_a, only_b = sorted(set(va_) - set(vb_)), sorted(set(vb_) - set(va_))
    if only_a or only_b:
        parts = [f'{", ".join(only_a)} only in {name_a}' if only_a else '',
                 f'{", ".join(only_b)} only in {name_b}' if only_b else '']
        found.append('the variables differ: ' + '; '.join(p for p in parts if p))
    for name in sorted(set(va_) & set(vb_)):
        if va_[name] != vb_[name]:
            found.append(f'the variables differ: {name} has dimensions {va_[name]} in {name_a}, {vb_[name]} in '
                         f'{name_b}')
            continue
        for dim in va_[name]:
            if dim in (xa, ya, t):
                continue
            if a.sizes[dim] != b.sizes[dim] or (dim in a.coords and dim in b.coords and not np.array_equal(
                    np.asarray(a[dim].values), np.asarray(b[dim].values))):
                found.append(f'the axis {dim} differs: {a.sizes[dim]} values in {name_a}, {b.sizes[dim]} in {name_b}')
    if t:
        ca, cb = calendar_name(a, t), calendar_name(b, t)
        if not same_calendar(ca, cb):
            found.append(f'the calendar differs: {ca!r} in {name_a}, {cb!r} in {name_b}')
    return list(dict.fromkeys(found))
