"""What a dataset is made of, worked out once when it is opened.

`GridModel` holds the axes (as look-up objects), the publishable variables
and the dimension roles; selections and metadata both read from it, so the
coordinates are loaded and analysed once per dataset, not once per request.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

import logging

from pyproj import CRS, Transformer

from ..errors import DatasetUnavailable
from .axes import axis_kind, find_axes, is_lonlat
from .coords import Axis, LonAxis
from .crs import (CRS84, Detected, affine_from_attrs, authority, check_transform, detect_crs, layout_item,
                  tile_matrix_set_crs)
from .curvilinear import Curvilinear
from .mesh import Mesh, build_mesh
from .times import calendar_of, to_epoch_seconds

LOGGER = logging.getLogger(__name__)


@dataclass
class CustomAxis:
    """A dimension that is neither x, y, t nor z (ensemble member, band, ...)."""

    name: str
    values: np.ndarray          # as published (numbers or strings)
    numeric: Axis | None        # look-ups when the values are numbers
    attrs: dict = field(default_factory=dict)


@dataclass
class Variable:
    name: str
    dims: tuple[str, ...]
    attrs: dict
    dtype: str
    valid_range: tuple[float, float] | None


@dataclass
class GridModel:
    x: str
    y: str
    t: str | None
    z: str | None
    x_axis: Axis                    # LonAxis (periodic look-ups) for lon/lat grids
    y_axis: Axis
    t_axis: Axis | None
    t_seconds: np.ndarray | None
    calendar: str | None            # None = standard (Gregorian); else a CF calendar name
    z_axis: Axis | None
    z_values: np.ndarray | None
    z_attrs: dict
    custom: dict[str, CustomAxis]
    variables: dict[str, Variable]
    attrs: dict
    crs: CRS = CRS84
    crs_source: str = 'CF latitude/longitude coordinates'
    curvilinear: Curvilinear | None = None      # 2-D lon/lat: x/y are then cell indices
    mesh: Mesh | None = None                    # unstructured: x/y name a node (or face) dimension

    @property
    def projected(self) -> bool:
        """x/y in a projected CRS (a native CRS other than CRS84 exists)."""
        return not self.crs.is_geographic

    @property
    def regular_lonlat(self) -> bool:
        """1-D longitude and latitude axes: windows come straight from the axes."""
        return not self.projected and self.curvilinear is None and self.mesh is None

    def native(self, lon, lat, clip: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """CRS84 lon/lat -> the grid's own x/y (unchanged on lon/lat grids; cell indices if curvilinear)."""
        lon, lat = np.asarray(lon, dtype='float64'), np.asarray(lat, dtype='float64')
        if self.curvilinear is not None:
            return self.curvilinear.indices(lon, lat, clip)
        if not self.projected:
            return lon, lat
        return _transformer(self.crs, True).transform(lon, lat)

    @functools.cached_property
    def outline(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x, y, lon, lat) of the grid's cell-edge outline, 200 points a side (x/y in the grid's own CRS)."""
        xe, ye = self.x_axis.edges, self.y_axis.edges
        n = 200
        xs, ys = np.linspace(xe[0], xe[-1], n), np.linspace(ye[0], ye[-1], n)
        ring_x = np.concatenate([xs, np.full(n, xe[-1]), xs[::-1], np.full(n, xe[0])])
        ring_y = np.concatenate([np.full(n, ye[0]), ys, np.full(n, ye[-1]), ys[::-1]])
        lon, lat = self.lonlat(ring_x, ring_y)
        return ring_x, ring_y, np.asarray(lon, dtype='float64'), np.asarray(lat, dtype='float64')

    def lonlat(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """The grid's x/y -> CRS84 lon/lat."""
        if self.curvilinear is not None:
            return self.curvilinear.lonlat(x, y)
        x, y = np.asarray(x, dtype='float64'), np.asarray(y, dtype='float64')
        if not self.projected:
            return x, y
        return _transformer(self.crs, False).transform(x, y)

    @property
    def x_values(self) -> np.ndarray:
        return self.x_axis.sorted[::-1] if self.x_axis.descending else self.x_axis.sorted

    @property
    def y_values(self) -> np.ndarray:
        return self.y_axis.sorted[::-1] if self.y_axis.descending else self.y_axis.sorted

    def role(self, dim: str) -> str:
        if self.mesh is not None and dim in self.mesh.locations:
            return 'x'
        return {self.x: 'x', self.y: 'y', self.t: 't', self.z: 'z'}.get(dim, 'custom')


def _valid_range(var: xr.DataArray) -> tuple[float, float] | None:
    """valid_min/max/range are in packed units (CF): unpack them like the data."""
    attrs = {**var.encoding, **var.attrs}
    lo, hi = attrs.get('valid_min'), attrs.get('valid_max')
    if 'valid_range' in attrs:
        lo, hi = attrs['valid_range']
    if lo is None and hi is None:
        return None
    scale = float(attrs.get('scale_factor', 1.0))
    offset = float(attrs.get('add_offset', 0.0))
    lo = -np.inf if lo is None else float(lo) * scale + offset
    hi = np.inf if hi is None else float(hi) * scale + offset
    return (min(lo, hi), max(lo, hi))


_TRANSFORMERS: dict = {}


def _transformer(crs: CRS, to_native: bool) -> Transformer:
    """Cached per CRS and direction: building a pyproj Transformer costs milliseconds."""
    key = (crs.to_wkt(), to_native)
    if key not in _TRANSFORMERS:
        source, target = (CRS84, crs) if to_native else (crs, CRS84)
        _TRANSFORMERS[key] = Transformer.from_crs(source, target, always_xy=True)
    return _TRANSFORMERS[key]


def _grid_mappings(ds: xr.Dataset) -> dict[str, dict]:
    return {str(name): dict(var.attrs) for name, var in ds.variables.items()
            if {'grid_mapping_name', 'crs_wkt', 'spatial_ref'} & set(var.attrs)}


def _array_attrs(var: xr.DataArray) -> dict:
    """A variable's attributes, with the grid_mapping xarray may have moved into its encoding."""
    return {**{k: v for k, v in var.encoding.items() if k == 'grid_mapping'}, **var.attrs}


def _equivalent(a: CRS, b: CRS) -> bool:
    if a == b or a.equals(b, ignore_axis_order=True):
        return True
    named = authority(a)
    return named is not None and named == authority(b)


def _crs_of(ds: xr.Dataset, x: str, y: str, names: list[str], parent_attrs: dict | None = None,
            inherited: tuple[str, str] | None = None, layout: dict | None = None) -> tuple[CRS, str]:
    """The CRS of the x/y grid, from the variables on it that declare one (not just the first one).

    Every variable on the grid is asked in the GeoZarr order (its geo-proj attributes, its group's,
    the parent group's, its grid_mapping, _CRS, proj:epsg); those that declare a CRS must agree (a
    disagreement is logged and the first declaration kept). Only when none declares one do the
    parent's tile-matrix-set CRS and the CF latitude/longitude fallback apply.
    """
    lonlat = is_lonlat(ds[x]) and is_lonlat(ds[y])
    mappings = _grid_mappings(ds)
    group_attrs = dict(ds.attrs)
    declared: list[tuple[str, Detected, dict]] = []
    for name in names:
        attrs = _array_attrs(ds[name])
        found = detect_crs(attrs, group_attrs, mappings, False, parent_attrs)
        if found is not None:
            declared.append((name, found, attrs))
    if declared:
        name, found, attrs = declared[0]
        others = [f'{other} ({detected.source}: {detected.crs.name})' for other, detected, _ in declared[1:]
                  if not _equivalent(detected.crs, found.crs)]
        if others:
            LOGGER.warning('variables on the %s/%s grid declare different CRSs: %s (%s: %s) is used; %s disagree',
                           x, y, name, found.source, found.crs.name, ', '.join(others))
    else:
        name, attrs = names[0], _array_attrs(ds[names[0]])
        found = detect_crs(attrs, group_attrs, mappings, lonlat, parent_attrs, inherited)
    if found is None:
        raise DatasetUnavailable(f'the x/y coordinates ({x}, {y}) are not longitude/latitude and no CRS is '
                                 'declared (proj:code, grid_mapping, _CRS or proj:epsg)')
    transform, source = affine_from_attrs(attrs, group_attrs, mappings, layout)
    disagreement = check_transform(transform, np.asarray(ds[x].values, 'float64'),
                                   np.asarray(ds[y].values, 'float64'), source, name)
    if disagreement:
        LOGGER.warning(disagreement)
    return found.crs, found.source


def _spatial_dimensions(*sources: dict) -> tuple[str, str] | None:
    """(y dim, x dim) from the first `spatial:dimensions` among `sources`."""
    for attrs in sources:
        dims = attrs.get('spatial:dimensions') if attrs else None
        if isinstance(dims, (list, tuple)) and len(dims) >= 2:
            return str(dims[-2]), str(dims[-1])
    return None


def _coordinates_from_transform(ds: xr.Dataset, layout: dict | None) -> tuple[str, str] | None:
    """(x dim, y dim) after giving a coordinate-less grid cell-centre coordinates from its affine transform.

    The transform comes from the multiscales layout item, the array's or group's `spatial:transform`
    (rasterio order, corner origin) or the grid_mapping's CF `GeoTransform` (GDAL order); the grid's
    dims from `spatial:dimensions`, else the array's last two. The coordinates are added to `ds`
    itself, so everything downstream sees an ordinary 1-D grid. None when no array has a transform.
    """
    mappings = _grid_mappings(ds)
    group_attrs = dict(ds.attrs)
    for name, var in ds.data_vars.items():
        if var.ndim < 2 or var.dtype.kind not in 'fiub' or 'cf_role' in var.attrs:
            continue
        attrs = _array_attrs(var)
        try:
            transform, source = affine_from_attrs(attrs, group_attrs, mappings, layout)
        except (TypeError, ValueError) as error:
            LOGGER.warning('%s: unreadable affine transform (%s)', name, error)
            continue
        if transform is None:
            continue
        dims = _spatial_dimensions(layout or {}, attrs, group_attrs) or tuple(map(str, var.dims[-2:]))
        ydim, xdim = dims
        if xdim not in var.dims or ydim not in var.dims or xdim == ydim:
            LOGGER.warning('%s: spatial:dimensions %s are not dimensions of the array %s', name, list(dims),
                           list(var.dims))
            continue
        if xdim in ds.coords or ydim in ds.coords:
            continue            # coordinates exist (if unrecognised): do not invent others over them
        a, b, c, d, e, f = transform
        if b or d:
            message = (f'{name}: {source} {list(transform)} is rotated or sheared; only north-up grids '
                       '(b = d = 0) can be served without coordinates')
            LOGGER.warning(message)
            raise DatasetUnavailable(message)
        if not a or not e:
            raise DatasetUnavailable(f'{name}: {source} {list(transform)} has a zero pixel size')
        nx, ny = int(ds.sizes[xdim]), int(ds.sizes[ydim])
        shape = (layout or {}).get('spatial:shape') or attrs.get('spatial:shape') or group_attrs.get('spatial:shape')
        if isinstance(shape, (list, tuple)) and len(shape) >= 2 and [int(v) for v in shape[-2:]] != [ny, nx]:
            LOGGER.warning('%s: spatial:shape %s disagrees with the array (%d x %d); the array is used',
                           name, list(shape), ny, nx)
        ds.coords[xdim] = (xdim, c + a * (np.arange(nx) + 0.5), {'axis': 'X', 'kazarr:from': source})
        ds.coords[ydim] = (ydim, f + e * (np.arange(ny) + 0.5), {'axis': 'Y', 'kazarr:from': source})
        LOGGER.info('%s: no x/y coordinates; cell centres computed from %s', name, source)
        return xdim, ydim
    return None


def _describe_synthesized(ds: xr.Dataset, x: str, y: str, crs: CRS):
    """CF attributes for coordinates computed from a transform, once the CRS is known."""
    for dim, kind in ((x, 'x'), (y, 'y')):
        if 'kazarr:from' not in ds[dim].attrs:
            continue
        if crs.is_geographic:
            extra = {'standard_name': 'longitude' if kind == 'x' else 'latitude',
                     'units': 'degrees_east' if kind == 'x' else 'degrees_north'}
        else:
            unit = crs.axis_info[0].unit_name if crs.axis_info else 'metre'
            extra = {'standard_name': f'projection_{kind}_coordinate', 'units': 'm' if unit == 'metre' else unit}
        ds[dim].attrs.update(extra)


def _two_d_lonlat(ds: xr.Dataset):
    """(lon name, lat name, y dim, x dim) of 2-D CF longitude/latitude coordinates, or None."""
    lon = lat = None
    for name in ds.variables:
        var = ds[name]
        if var.ndim == 2 and is_lonlat(var):
            kind = axis_kind(var)
            if kind == 'x' and lon is None:
                lon = str(name)
            elif kind == 'y' and lat is None:
                lat = str(name)
    if lon and lat and ds[lon].dims == ds[lat].dims:
        return lon, lat, str(ds[lat].dims[0]), str(ds[lat].dims[1])
    return None


def build_model(ds: xr.Dataset, parent_attrs: dict | None = None, level: str | None = None) -> GridModel:
    """The model of one opened group.

    `parent_attrs` are the attributes of the group above (a multiscale group for its levels, a
    product root for its resolution groups): CRS declarations there are inherited. `level` names
    this group as a level of that multiscale group, whose layout item (`spatial:transform`) and
    GeoZarr 0.4 `tile_matrix_set.crs` then apply. A grid without x/y coordinates but with an affine
    transform gets cell-centre coordinates added to `ds`.
    """
    parent_attrs = dict(parent_attrs or {})
    layout = layout_item(parent_attrs, level) if level is not None else None
    tms_crs = tile_matrix_set_crs(parent_attrs) if level is not None else None
    inherited = (tms_crs, 'parent multiscales tile_matrix_set crs') if tms_crs else None
    axes = find_axes(ds)
    curvilinear = None
    mesh = None
    if 'x' not in axes or 'y' not in axes:
        found = _two_d_lonlat(ds)
        synthesized = _coordinates_from_transform(ds, layout) if found is None else None
        if found is not None:
            lon_name, lat_name, ydim, xdim = found
            curvilinear = Curvilinear(ds[lon_name].values, ds[lat_name].values)
            axes = {**{k: v for k, v in axes.items() if v not in (xdim, ydim)}, 'x': xdim, 'y': ydim}
        elif synthesized is not None:
            xdim, ydim = synthesized
            axes = {**{k: v for k, v in axes.items() if v not in (xdim, ydim)}, 'x': xdim, 'y': ydim}
        else:
            mesh = build_mesh(ds)
            if mesh is None:
                raise DatasetUnavailable('no longitude/latitude coordinates recognised: 1-D axes, 2-D arrays, a '
                                         'UGRID mesh or a point list (CF standard_name, units or axis attributes)')
            axes = {**axes, 'x': mesh.node_dim, 'y': mesh.node_dim}
    x, y, t, z = axes['x'], axes['y'], axes.get('t'), axes.get('z')
    variables = {}
    horizontal = set(mesh.locations) if mesh is not None else None
    for name, var in ds.data_vars.items():
        on_grid = (horizontal & set(var.dims)) if horizontal else (x in var.dims and y in var.dims)
        # mesh topology and connectivity tables carry a cf_role: they describe the mesh, they are not data
        if on_grid and var.dtype.kind in 'fiub' and 'cf_role' not in var.attrs:
            variables[str(name)] = Variable(str(name), tuple(map(str, var.dims)), dict(var.attrs),
                                            str(var.dtype), _valid_range(var))
    if not variables:
        raise DatasetUnavailable('no data variable on the longitude/latitude grid')
    custom = {}
    for var in variables.values():
        for dim in var.dims:
            if dim in (x, y, t, z) or dim in custom or (horizontal and dim in horizontal):
                continue
            if dim in ds.coords:
                values = np.asarray(ds.coords[dim].values)
                attrs = dict(ds.coords[dim].attrs)
            else:
                values, attrs = np.arange(ds.sizes[dim]), {}
            numeric = Axis(values) if values.dtype.kind in 'fiu' else None
            if values.dtype.kind not in 'fiu':
                values = values.astype(str)
            custom[dim] = CustomAxis(dim, values, numeric, attrs)

    calendar = calendar_of(ds[t].values) if t else None
    t_seconds = to_epoch_seconds(ds[t].values, calendar) if t else None
    z_values = np.asarray(ds[z].values, dtype='float64') if z else None
    if mesh is not None:
        crs, crs_source = CRS84, 'CF longitude/latitude of the mesh nodes'
    elif curvilinear is not None:
        crs, crs_source = CRS84, 'CF 2-D latitude/longitude coordinates (curvilinear)'
    else:
        crs, crs_source = _crs_of(ds, x, y, list(variables), parent_attrs, inherited, layout)
        _describe_synthesized(ds, x, y, crs)
    x_values = np.asarray(ds[x].values, dtype='float64')
    return GridModel(
        x=x, y=y, t=t, z=z,
        x_axis=LonAxis(x_values) if crs.is_geographic and curvilinear is None and mesh is None else Axis(x_values),
        y_axis=Axis(np.asarray(ds[y].values, dtype='float64')),
        t_axis=Axis(t_seconds, bounded_by_edges=False) if t else None,
        t_seconds=t_seconds,
        calendar=calendar,
        z_axis=Axis(z_values) if z else None,
        z_values=z_values,
        z_attrs=dict(ds[z].attrs) if z else {},
        custom=custom,
        variables=variables,
        attrs=dict(ds.attrs),
        crs=crs,
        crs_source=crs_source,
        curvilinear=curvilinear,
        mesh=mesh,
    )
