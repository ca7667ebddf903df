"""What the store will hold: the grid as the server reads it, completed for writing.

The input is read through the server's own `build_model`, so the converter sees the axes and the
CRS exactly as a served store would. Horizontal coordinates are written in float64; float32 inputs
that are regular within float32 precision get their start and step rounded to 7 significant digits
and recomputed (0.01 stays 0.01, not 0.009999999776). Attributes are kept and completed (CF
`standard_name`, `units`, `axis`, `long_name`; `valid_*` moved to the units they are written in).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import xarray as xr
from pyproj import CRS
from xarray.coding.times import encode_cf_datetime

from ..core.crs import authority
from ..core.model import build_model
from ..errors import KazarrError
from . import ConvertError
from .compare import calendar_name
from .reader import Source

LOGGER = logging.getLogger(__name__)

# attributes that describe the input's encoding, or that we write ourselves: never copied
DROP_ATTRS = {'_FillValue', 'missing_value', 'scale_factor', 'add_offset', 'grid_mapping', 'coordinates',
              'chunksizes', '_ChunkSizes', '_Unsigned', 'DIMENSION_LIST', '_Netcdf4Dimid', '_Netcdf4Coordinates',
              'CLASS', 'NAME', 'REFERENCE_LIST', 'dtype', 'units_metadata', 'resampling_method'}
PRESSURE_UNITS = {'pa', 'hpa', 'kpa', 'mbar', 'millibar', 'bar', 'dbar', 'atm'}
PACK_FILL = -32768
PACK_RANGE = 32766          # packed values in [-32766, 32766]; -32768 is the fill, -32767 left unused


@dataclass
class VarSpec:
    name: str
    dims: tuple[str, ...]                 # written order: time, other dims, y, x
    attrs: dict
    dtype: np.dtype                       # on disk
    compute_dtype: np.dtype               # in memory (decoded: NaN marks missing for floats)
    fill: float | int | None = None       # _FillValue in on-disk units
    scale: float | None = None
    offset: float | None = None
    method: str = 'average'               # pyramid resampling: average, mode (flag_values) or nearest (flag_masks)
    flags: np.ndarray | None = None
    valid: tuple[float, float] | None = None    # valid range in physical units (written in on-disk units)

    @property
    def packed(self) -> bool:
        return self.scale is not None

    def encoding(self, zarr_format: int) -> dict:
        out: dict = {'dtype': self.dtype}
        if self.fill is not None:
            out['_FillValue'] = self.fill
            if zarr_format == 3:
                out['fill_value'] = self.fill      # missing chunks read as the fill, which xarray masks
        else:
            out['_FillValue'] = None
        if self.packed:
            out.update(scale_factor=self.scale, add_offset=self.offset)
        return out

    def written_attrs(self) -> dict:
        attrs = dict(self.attrs)
        for key in ('valid_min', 'valid_max', 'valid_range', 'actual_range'):
            attrs.pop(key, None)
        if self.valid is not None:
            lo, hi = self.valid
            if self.packed:
                lo, hi = (int(np.clip(np.round((v - self.offset) / self.scale), -PACK_RANGE, PACK_RANGE))
                          for v in (lo, hi))
            elif self.dtype.kind in 'iu':
                lo, hi = int(lo), int(hi)
            else:
                lo, hi = (np.asarray(v, self.dtype).item() for v in (lo, hi))
            attrs['valid_range'] = [lo, hi]
        return attrs


@dataclass
class Schema:
    x: str
    y: str
    t: str | None
    others: list[str]
    x_values: np.ndarray
    y_values: np.ndarray
    coord_attrs: dict[str, dict]
    transform: tuple[float, ...] | None
    crs: CRS
    crs_code: str | None
    variables: dict[str, VarSpec]
    attrs: dict
    mapping_name: str = 'spatial_ref'
    times: np.ndarray | None = None
    time_units: str | None = None
    calendar: str | None = None
    time_dtype: str = 'int64'
    other_values: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def ny(self) -> int:
        return int(self.y_values.size)

    @property
    def nx(self) -> int:
        return int(self.x_values.size)

    @property
    def ntime(self) -> int:
        return 0 if self.times is None else int(self.times.size)

    def sizes(self) -> dict[str, int]:
        out = {self.y: self.ny, self.x: self.nx, **{d: int(v.size) for d, v in self.other_values.items()}}
        if self.t:
            out[self.t] = self.ntime
        return out

    def mapping_attrs(self, transform=None) -> dict:
        """The CF grid_mapping variable: CF parameters, `crs_wkt` (and GDAL's `spatial_ref`, `GeoTransform`)."""
        attrs = {}
        try:
            attrs.update(self.crs.to_cf())
        except Exception:  # pragma: no cover - pyproj could not say it in CF terms: the WKT still does
            pass
        wkt = self.crs.to_wkt()
        attrs.update(crs_wkt=wkt, spatial_ref=wkt)
        transform = transform or self.transform
        if transform is not None:
            a, b, c, d, e, f = transform
            attrs['GeoTransform'] = ' '.join(repr(float(v)) for v in (c, a, b, f, d, e))
        return attrs


def regular_axis(values) -> tuple[np.ndarray, float | None]:
    """(float64 coordinates, step) — step None when the axis is not regular."""
    raw = np.asarray(values)
    v = raw.astype('float64')
    if v.size < 2 or v[-1] == v[0]:
        return v, None
    step = (v[-1] - v[0]) / (v.size - 1)
    fitted = v[0] + step * np.arange(v.size)
    single = raw.dtype.kind == 'f' and raw.dtype.itemsize < 8
    tolerance = abs(step) * (1e-3 if single else 1e-6)
    if not np.allclose(fitted, v, rtol=0, atol=tolerance):
        return v, None
    if not single:
        return v, step
    start, rounded = float(f'{v[0]:.7g}'), float(f'{step:.7g}')
    candidate = start + rounded * np.arange(v.size)
    ulp = np.spacing(np.abs(raw).max().astype(raw.dtype)) * 2
    if np.allclose(candidate.astype(raw.dtype), raw, rtol=0, atol=float(ulp)):
        return candidate, rounded
    return fitted, step


def transform_of(x_step, y_step, x: np.ndarray, y: np.ndarray):
    """Rasterio-order affine (corner origin) of cell-centre coordinates, or None if an axis is irregular."""
    if x_step is None or y_step is None:
        return None
    return (float(x_step), 0.0, float(x[0] - x_step / 2), 0.0, float(y_step), float(y[0] - y_step / 2))


def _coordinate_attrs(var: xr.DataArray, kind: str, crs: CRS) -> dict:
    attrs = {k: v for k, v in var.attrs.items() if k not in DROP_ATTRS}
    geographic = crs.is_geographic
    if kind in ('x', 'y'):
        if geographic:
            name = 'longitude' if kind == 'x' else 'latitude'
            attrs.setdefault('standard_name', name)
            attrs.setdefault('long_name', name)
            attrs['units'] = 'degrees_east' if kind == 'x' else 'degrees_north'
        else:
            attrs.setdefault('standard_name', f'projection_{kind}_coordinate')
            attrs.setdefault('long_name', f'{kind} coordinate of projection')
            unit = crs.axis_info[0].unit_name if crs.axis_info else 'metre'
            attrs.setdefault('units', 'm' if unit in ('metre', 'meter') else unit)
        attrs['axis'] = kind.upper()
    elif kind == 't':
        attrs.setdefault('standard_name', 'time')
        attrs.setdefault('long_name', 'time')
        attrs['axis'] = 'T'
        attrs.pop('units', None)
        attrs.pop('calendar', None)
    elif kind == 'z':
        attrs['axis'] = 'Z'
        units = str(attrs.get('units', '')).lower().replace(' ', '')
        if 'positive' not in attrs:
            if units in PRESSURE_UNITS or str(attrs.get('standard_name', '')) in ('depth', 'air_pressure'):
                attrs['positive'] = 'down'
            elif units in ('m', 'km', 'metre', 'meter', 'metres', 'meters'):
                attrs['positive'] = 'up'
    return attrs


def _time_encoding(ds: xr.Dataset, t: str, times: np.ndarray, calendar: str) -> tuple[str, str]:
    """(units, dtype) for the time axis: the input's units, integers whenever they are exact."""
    units = ds[t].encoding.get('units') or 'seconds since 1970-01-01 00:00:00'
    try:
        numbers, units, _ = encode_cf_datetime(times, units, calendar)
    except Exception:
        units = 'seconds since 1970-01-01 00:00:00'
        numbers, units, _ = encode_cf_datetime(times, units, calendar)
    numbers = np.asarray(numbers, 'float64')
    return units, 'int64' if np.all(numbers == np.round(numbers)) else 'float64'


def _var_spec(ds: xr.Dataset, name: str, dims: tuple[str, ...], mapping: str, pack: bool) -> VarSpec:
    var = ds[name]
    enc = var.encoding
    attrs = {k: v for k, v in var.attrs.items() if k not in DROP_ATTRS}
    attrs.setdefault('long_name', str(var.attrs.get('GRIB_name') or name))
    attrs['grid_mapping'] = mapping
    source_dtype = np.dtype(enc.get('dtype', var.dtype))
    was_packed = 'scale_factor' in enc or 'add_offset' in enc
    valid = _physical_valid(var)
    flags = np.asarray(var.attrs['flag_values']).ravel() if 'flag_values' in var.attrs else None
    method = 'mode' if flags is not None else 'nearest' if 'flag_masks' in var.attrs else 'average'
    decoded = np.dtype(var.dtype)
    if decoded.kind == 'b':
        decoded = np.dtype('uint8')
    spec = VarSpec(name, dims, attrs, decoded, decoded if decoded.kind == 'f' else np.dtype('float64'),
                   method=method, flags=flags, valid=valid)
    if decoded.kind == 'f' and source_dtype.kind in 'iu' and not was_packed:
        # integers with a _FillValue (decoded to floats by the mask): written back as the same integers
        spec.dtype, spec.fill = source_dtype, enc.get('_FillValue', enc.get('missing_value'))
        spec.compute_dtype = decoded
    elif decoded.kind == 'f':
        spec.fill = np.nan
        spec.compute_dtype = decoded
        if pack and method == 'average':
            spec.dtype, spec.fill = np.dtype('int16'), PACK_FILL
            spec.scale, spec.offset = 1.0, 0.0          # set from the data's range before writing
    elif 'flag_values' not in var.attrs and enc.get('_FillValue') is not None:
        spec.fill = enc['_FillValue']
    if spec.fill is not None and spec.dtype.kind in 'iu':
        spec.fill = int(np.asarray(spec.fill).ravel()[0])
    return spec


def _physical_valid(var: xr.DataArray) -> tuple[float, float] | None:
    attrs = {**var.encoding, **var.attrs}
    lo, hi = attrs.get('valid_min'), attrs.get('valid_max')
    if 'valid_range' in attrs:
        lo, hi = np.asarray(attrs['valid_range']).ravel()[:2]
    if lo is None and hi is None:
        return None
    scale, offset = float(var.encoding.get('scale_factor', 1.0)), float(var.encoding.get('add_offset', 0.0))
    lo = -np.inf if lo is None else float(lo) * scale + offset
    hi = np.inf if hi is None else float(hi) * scale + offset
    return (lo, hi) if np.isfinite(lo) and np.isfinite(hi) else None


def describe(source: Source, chosen: list[str] | None = None, pack: list[str] | bool = False) -> Schema:
    """The schema of the store to write from the inputs (the first one gives attributes and coordinates)."""
    ds = source.first
    path = source.paths[0]
    names = chosen or [str(n) for n in ds.data_vars]
    mappings = [str(n) for n, v in ds.variables.items()
                if {'grid_mapping_name', 'crs_wkt', 'spatial_ref'} & set(v.attrs)]
    subset = ds[list(dict.fromkeys([n for n in names if n not in mappings] + mappings))]
    try:
        model = build_model(subset)
    except KazarrError as error:
        raise ConvertError(f'{path}: {error.description}') from None
    if model.curvilinear is not None or model.mesh is not None:
        raise ConvertError(f'{path}: only grids with 1-D x/y axes are converted (this one is '
                           f'{"curvilinear" if model.curvilinear is not None else "an unstructured mesh"})')
    x, y, t = model.x, model.y, model.t
    if chosen:
        off = [n for n in chosen if n not in model.variables]
        if off:
            raise ConvertError(f'{path}: {", ".join(off)} not on the {x}/{y} grid')
    left_out = [n for n in names if n not in model.variables and n not in mappings]
    if left_out:
        LOGGER.info('not on the %s/%s grid, left out: %s', x, y, ', '.join(left_out))
    x_values, x_step = regular_axis(ds[x].values)
    y_values, y_step = regular_axis(ds[y].values)
    transform = transform_of(x_step, y_step, x_values, y_values)
    if transform is None:
        LOGGER.warning('%s: irregular %s/%s axis: no spatial:transform is written', path, x, y)
    crs = model.crs
    named = authority(crs)
    crs_code = f'{named[0]}:{named[1]}' if named else None
    mapping_name = mappings[0] if mappings else 'spatial_ref'
    pack_all = pack is True or pack == ['*']
    variables, others = {}, []
    for name in model.variables:
        src = tuple(map(str, ds[name].dims))
        rest = [d for d in src if d not in (t, y, x)]
        others.extend(d for d in rest if d not in others)
        dims = tuple(([t] if t in src else []) + rest + [y, x])
        want_pack = pack_all or (isinstance(pack, list) and name in pack)
        variables[name] = _var_spec(ds, name, dims, mapping_name, want_pack)
    if isinstance(pack, list) and not pack_all:
        unknown = [n for n in pack if n not in variables]
        if unknown:
            raise ConvertError(f'--pack names {", ".join(unknown)}, not variables on the grid')
    coord_attrs = {x: _coordinate_attrs(ds[x], 'x', crs), y: _coordinate_attrs(ds[y], 'y', crs)}
    other_values = {}
    for dim in others:
        values = np.asarray(ds[dim].values) if dim in ds.coords else np.arange(ds.sizes[dim])
        other_values[dim] = values
        kind = 'z' if dim == model.z else 'custom'
        coord_attrs[dim] = _coordinate_attrs(ds[dim], kind, crs) if dim in ds.coords else {}
    attrs = {k: v for k, v in ds.attrs.items() if not str(k).startswith('_')}
    attrs.setdefault('Conventions', 'CF-1.10')
    attrs.setdefault('title', path.stem)
    schema = Schema(x, y, t, others, x_values, y_values, coord_attrs, transform, crs, crs_code, variables, attrs,
                    mapping_name)
    if t:
        times = source.times()
        calendar = calendar_name(ds, t)
        schema.times, schema.calendar = times, calendar
        schema.time_units, schema.time_dtype = _time_encoding(ds, t, times, calendar)
        coord_attrs[t] = _coordinate_attrs(ds[t], 't', crs)
    schema.other_values = other_values
    return schema
