"""Which axis names and CRSs a coverage request may use on one collection.

`coverage_axes(model)` lists the axes with their prescribed names (Lon/Lat, E/N, time, the vertical and
other dimensions by their own names) and aliases; `axis_table` turns that into a name -> axis look-up;
`parse_crs_choice` reads a `crs`, `subset-crs` or `bbox-crs` value into one of the CRSs offered.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pyproj import CRS
from pyproj.exceptions import CRSError

from ...core.crs import CRS84, crs_name, crs_uri, same_crs
from ...core.model import GridModel
from .declarations import (CRS84_NAMES, CRS84_URI, EPSG_URI, EXTRA_CRS, GEOGRAPHIC_AXES, PROJECTED_AXES,
                           TIME_ALIASES, TIME_AXIS, VERTICAL_ALIASES)
from .grammar import bad

EPSG_4326 = CRS.from_user_input('EPSG:4326')
EPSG_3857 = CRS.from_user_input('EPSG:3857')


@dataclass(frozen=True)
class CoverageAxis:
    """One axis a coverage request can name."""

    name: str                       # prescribed name: Lon/Lat, E/N, time, else the dimension's own name
    dim: str                        # the model's dimension it selects on
    role: str                       # x | y | t | z | custom
    family: str | None = None       # x/y only: 'geographic' (Lon/Lat) or 'projected' (E/N)
    aliases: tuple[str, ...] = ()   # other names accepted for it
    labels: bool = False            # a custom dimension of text values (selected by exact label)


def coverage_axes(model: GridModel, projected: bool | None = None) -> tuple[CoverageAxis, ...]:
    """The axes of `model` in x, y, t, z, custom order.

    Lon/Lat are always offered (geographic coordinates, CRS84 or EPSG:4326); E/N when the grid is
    projected, or when `projected` is True (a projected subset-crs such as EPSG:3857 on a lon/lat grid).
    A regular grid's own x/y/t dimension names are aliases too (`x`/`y` of a UTM store, `valid_time`);
    a curvilinear grid's or mesh's x/y dimensions are cell indices, not coordinates, and are not.
    """
    projected = model.projected if projected is None else projected or model.projected
    regular = model.curvilinear is None and model.mesh is None
    own_family = 'projected' if model.projected else 'geographic'
    axes: list[CoverageAxis] = []
    for family, table in (('projected', PROJECTED_AXES), ('geographic', GEOGRAPHIC_AXES)):
        if family == 'projected' and not projected:
            continue
        for (name, aliases), dim, role in zip(table.items(), (model.x, model.y), ('x', 'y')):
            own = (dim,) if regular and family == own_family and dim not in aliases and dim != name else ()
            axes.append(CoverageAxis(name, dim, role, family, aliases + own))
    if model.t is not None:
        own = (model.t,) if model.t != TIME_AXIS and model.t not in TIME_ALIASES else ()
        axes.append(CoverageAxis(TIME_AXIS, model.t, 't', aliases=TIME_ALIASES + own))
    if model.z is not None:
        axes.append(CoverageAxis(model.z, model.z, 'z', aliases=VERTICAL_ALIASES))
    for dim, axis in model.custom.items():
        axes.append(CoverageAxis(dim, dim, 'custom', labels=axis.numeric is None))
    return tuple(axes)


def axis_table(axes: tuple[CoverageAxis, ...]) -> dict[str, CoverageAxis]:
    """name -> axis; prescribed and own dimension names win over another axis' alias (draft rec. A)."""
    table: dict[str, CoverageAxis] = {}
    for axis in axes:
        for alias in axis.aliases:
            table.setdefault(alias, axis)
    for axis in axes:
        table[axis.name] = axis
    return table


def axis_names(axes: tuple[CoverageAxis, ...]) -> str:
    """The prescribed names, for messages: 'Lon, Lat, time, pressure, number'."""
    return ', '.join(axis.name for axis in axes)


@dataclass(frozen=True)
class CrsChoice:
    """A CRS a request names, for the output or for subset / bbox coordinates."""

    name: str                   # 'CRS84', 'EPSG:4326', 'EPSG:3857' or the storage CRS's AUTH:CODE (else its PROJ text)
    uri: str | None             # its OGC URI (for Content-Crs); None for a storage CRS without an authority code
    crs: CRS = field(compare=False, repr=False)    # pyproj's; EPSG:4326 keeps its latitude-first axis order
    native: bool = False        # x/y in it are the grid's own coordinates (no reprojection): the storage CRS,
                                # and CRS84/EPSG:4326 on lon/lat grids (curvilinear and mesh grids included)

    @property
    def geographic(self) -> bool:
        return self.crs.is_geographic

    @property
    def lat_first(self) -> bool:
        """Axis order latitude, longitude (EPSG:4326): the order bbox values come in."""
        info = self.crs.axis_info
        return bool(info) and info[0].direction.lower() == 'north'


def crs84_choice(model: GridModel) -> CrsChoice:
    return CrsChoice('CRS84', CRS84_URI, CRS84, native=not model.projected)


def storage_choice(model: GridModel) -> CrsChoice:
    """The default output CRS: the storage CRS (CRS84 on lon/lat grids)."""
    if not model.projected:
        return crs84_choice(model)
    return CrsChoice(crs_name(model.crs), crs_uri(model.crs), model.crs, native=True)


def offered_crs(model: GridModel) -> str:
    storage = f' or {crs_name(model.crs)} (the storage CRS)' if model.projected else ''
    return f'CRS84, {", ".join(EXTRA_CRS)}{storage}, as a URI or CURIE'


def parse_crs_choice(text: str, parameter: str, model: GridModel) -> CrsChoice:
    """A URI, safe CURIE `[EPSG:4326]`, CURIE or anything pyproj reads, naming one of the offered CRSs."""
    raw = text.strip()
    if raw.startswith('[') and raw.endswith(']'):
        raw = raw[1:-1].strip()
    if raw.lower() in CRS84_NAMES:
        return crs84_choice(model)
    try:
        asked = CRS.from_user_input(raw) if raw else None
    except (CRSError, TypeError, ValueError):
        asked = None
    if asked is not None:
        if asked == CRS84:
            return crs84_choice(model)
        if asked == EPSG_4326:
            return CrsChoice('EPSG:4326', EPSG_URI.format(code=4326), EPSG_4326, native=not model.projected)
        if model.projected and same_crs(raw, model.crs):
            return storage_choice(model)
        if asked == EPSG_3857:
            return CrsChoice('EPSG:3857', EPSG_URI.format(code=3857), EPSG_3857)
    raise bad(parameter, f'{text.strip()!r} is not a CRS offered for this collection; expected '
                         f'{offered_crs(model)}')
