"""What a dataset is made of, worked out once when it is opened.

`GridModel` holds the axes (as look-up objects), the publishable variables
and the dimension roles; selections and metadata both read from it, so the
coordinates are loaded and analysed once per dataset, not once per request.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

import logging

from pyproj import CRS, Transformer

from ..errors import DatasetUnavailable
from .axes import axis_kind, find_axes, is_lonlat
from .coords import Axis, LonAxis
from .crs import CRS84, affine_from_attrs, check_transform, detect_crs
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


def _crs_of(ds: xr.Dataset, x: str, y: str, first: xr.DataArray) -> tuple[CRS, str]:
    attrs = {**{k: v for k, v in first.encoding.items() if k == 'grid_mapping'}, **first.attrs}
    lonlat = is_lonlat(ds[x]) and is_lonlat(ds[y])
    mappings = _grid_mappings(ds)
    found = detect_crs(attrs, dict(ds.attrs), mappings, lonlat)
    if found is None:
        raise DatasetUnavailable(f'the x/y coordinates ({x}, {y}) are not longitude/latitude and no CRS is '
                                 'declared (proj:code, grid_mapping, _CRS or proj:epsg)')
    transform, source = affine_from_attrs(attrs, dict(ds.attrs), mappings)
    disagreement = check_transform(transform, np.asarray(ds[x].values, 'float64'),
                                   np.asarray(ds[y].values, 'float64'), source, str(first.name))
    if disagreement:
        LOGGER.warning(disagreement)
    return found.crs, found.source


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


def build_model(ds: xr.Dataset) -> GridModel:
    axes = find_axes(ds)
    curvilinear = None
    mesh = None
    if 'x' not in axes or 'y' not in axes:
        found = _two_d_lonlat(ds)
        if found is not None:
            lon_name, lat_name, ydim, xdim = found
            curvilinear = Curvilinear(ds[lon_name].values, ds[lat_name].values)
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
        crs, crs_source = _crs_of(ds, x, y, ds[next(iter(variables))])
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
