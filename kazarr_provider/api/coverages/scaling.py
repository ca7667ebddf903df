"""Scaling parameters -> one `Scaling`: `resolution`, `width`/`height`, and the legacy `scale-size`,
`scale-factor`, `scale-axes` with their WCS spellings (`scaleSize` is what GDAL sends).

One style per request; only the spatial axes scale (temporal and general scaling are not offered).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ...core.model import GridModel
from ..params import number
from .axes import CoverageAxis, CrsChoice, axis_table, coverage_axes
from .declarations import SCALING_STYLES
from .grammar import AxisSpec, bad, one, split_axes, values, values_of

AXIS_LABEL = {'x': 'x (Lon/E)', 'y': 'y (Lat/N)'}


@dataclass(frozen=True)
class Scaling:
    """The size of the answer's spatial grid; an axis left None keeps its native resolution."""

    mode: str                           # 'size': x/y are cell counts (int); 'resolution': cell sizes in the
                                        # output CRS's units; 'factor': divisors of the native number of
                                        # cells (2 = half as many, coarser; below 1 = finer)
    parameters: tuple[str, ...]         # the parameters that asked it: ('width', 'height'), ('scaleSize',) ...
    x: float | None = None              # along x (longitude / easting)
    y: float | None = None              # along y (latitude / northing)
    native: frozenset = frozenset()     # roles asked explicitly at native resolution (`resolution=`,
                                        # `resolution=Lat()`): never downsampled; over the limit -> 413

    def __post_init__(self):
        object.__setattr__(self, 'native', frozenset(self.native))
        object.__setattr__(self, 'parameters', tuple(self.parameters))

    def parameter(self, role: str) -> str:
        """The parameter that scaled `role` ('x' or 'y'), to name in messages."""
        if self.parameters == ('width', 'height'):
            return 'width' if role == 'x' else 'height'
        return self.parameters[0]


def _present(params, name: str) -> bool:
    given = values(params, name)
    # `resolution=` (empty) asks the native resolution; other parameters given empty are absent
    return bool(given) if name == 'resolution' else any(value.strip() for value in given)


def parse_scaling(params, model: GridModel, output: CrsChoice, sliced: set[str]) -> Scaling | None:
    """`sliced`: the spatial roles ('x', 'y') the request slices, which no parameter may scale."""
    given = [(style, [name for name in names if _present(params, name)]) for style, names in SCALING_STYLES.items()]
    given = [(style, names) for style, names in given if names]
    if not given:
        return None
    if len(given) > 1:
        raise bad(given[1][1][0], f'give one way of scaling; {given[0][1][0]} is given too')
    style, names = given[0]
    if style == 'size':
        scaling = Scaling('size', tuple(names), x=_size(params, 'width'), y=_size(params, 'height'))
    elif style in ('scale-factor', 'scaleFactor'):
        name = names[0]
        factor = _positive(one(params, name), name, name)
        # one factor for every spatial axis: a sliced axis has nothing to scale and is left out
        return Scaling('factor', (name,), x=None if 'x' in sliced else factor, y=None if 'y' in sliced else factor)
    else:
        text = one(params, names[0]) or ''
        if style == 'resolution' and not text.strip():
            # `resolution=`: the native resolution on every spatial axis; a sliced one has none to keep
            return Scaling('resolution', (names[0],), native={'x', 'y'} - sliced)
        scaling = _per_axis(style, names[0], text, model, output)
    for role in sorted(sliced):
        if getattr(scaling, role) is not None or role in scaling.native:
            name = scaling.parameter(role)
            raise bad(name, f'{AXIS_LABEL[role]} is sliced by the subset and scaled by {name}; slicing and '
                            'scaling the same axis exclude each other')
    return scaling


def _size(params, name: str) -> int | None:
    text = one(params, name)
    if text is None or not text.strip():
        return None
    text = text.strip()
    if not text.isdigit() or int(text) < 1:
        raise bad(name, f'expected a positive whole number of cells, got {text!r}')
    return int(text)


def _positive(text: str | None, name: str, where: str) -> float:
    value = number(str(text).strip(), name)
    if value <= 0:
        raise bad(name, f'{where}: must be positive, got {text}')
    return value


def _per_axis(style: str, name: str, text: str, model: GridModel, output: CrsChoice) -> Scaling:
    """`axis(value),axis(value)`: resolution, scale-size / scaleSize, scale-axes / scaleAxes."""
    mode = {'resolution': 'resolution', 'scale-size': 'size', 'scaleSize': 'size'}.get(style, 'factor')
    if not text.strip():
        raise bad(name, 'expected axis(value),... e.g. Lat(2),Lon(2)')
    axes = coverage_axes(model, projected=True)
    table = axis_table(axes)
    spatial = ', '.join(axis.name for axis in axes if axis.role in ('x', 'y'))
    scaled: dict[str, float | None] = {}
    native: set[str] = set()
    seen: dict[str, AxisSpec] = {}
    for spec in split_axes(text, name):
        axis = table.get(spec.name)
        if axis is None or axis.role not in ('x', 'y'):
            what = 'is not a spatial axis' if axis is not None else 'is not an axis of this collection'
            raise bad(name, f'{spec.name} {what}; {name} scales the spatial axes: {spatial}')
        if axis.role in seen:
            raise bad(name, f'{axis.name} given twice ({seen[axis.role].text} and {spec.text})')
        seen[axis.role] = spec
        if style == 'resolution':
            _check_family(axis, output, name)
        if spec.empty:
            if style != 'resolution':
                raise bad(name, f'{spec.text}: give a value')
            native.add(axis.role)
            continue
        kind, tokens = values_of(spec, name)
        if kind != 'points' or len(tokens) != 1 or tokens[0].star:
            raise bad(name, f'{spec.text}: expected one number, e.g. {axis.name}(2)')
        raw = tokens[0].text
        if mode == 'size':
            if not raw.isdigit() or int(raw) < 1:
                raise bad(name, f'{spec.text}: expected a positive whole number of cells')
            scaled[axis.role] = int(raw)
        else:
            scaled[axis.role] = _positive(raw, name, spec.text)
            if not math.isfinite(scaled[axis.role]):
                raise bad(name, f'{spec.text}: not a finite number')
    return Scaling(mode, (name,), x=scaled.get('x'), y=scaled.get('y'), native=native)


def _check_family(axis: CoverageAxis, output: CrsChoice, name: str):
    """resolution is in the output CRS's units: its axis names say which (draft: Lat/Lon or E/N)."""
    wanted = 'geographic' if output.geographic else 'projected'
    if axis.family != wanted:
        names = 'Lon/Lat (degrees)' if output.geographic else 'E/N (in its units)'
        raise bad(name, f'{axis.name} names a {axis.family} axis but the output CRS {output.name} is {wanted}: '
                        f'give {names}, or another crs')
