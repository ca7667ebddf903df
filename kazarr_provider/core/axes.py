"""Recognise the spatial, temporal and vertical axes of a dataset.

CF attributes decide (`standard_name`, `units`, `axis`, `positive`); the
variable name is only the last resort, because real stores name their axes
anything (`lat`, `latitude`, `nav_lat`, `y`, `rlat` ...).
"""
from __future__ import annotations

import numpy as np
import xarray as xr

LAT_UNITS = {'degrees_north', 'degree_north', 'degree_n', 'degrees_n', 'degreen', 'degreesn'}
LON_UNITS = {'degrees_east', 'degree_east', 'degree_e', 'degrees_e', 'degreee', 'degreese'}
PRESSURE_UNITS = {'pa', 'hpa', 'mbar', 'millibar', 'bar', 'kpa', 'atm'}
LENGTH_UNITS = {'m', 'meter', 'meters', 'metre', 'metres', 'km', 'kilometer', 'kilometers'}
VERTICAL_STANDARD_NAMES = {
    'air_pressure', 'altitude', 'height', 'depth', 'height_above_geopotential_datum',
    'model_level_number', 'atmosphere_sigma_coordinate', 'atmosphere_hybrid_sigma_pressure_coordinate',
    'ocean_sigma_coordinate', 'ocean_s_coordinate', 'height_above_mean_sea_level',
}
LAT_NAMES = {'lat', 'latitude', 'nav_lat', 'y_lat'}
LON_NAMES = {'lon', 'long', 'longitude', 'nav_lon', 'x_lon'}
TIME_NAMES = {'time', 't', 'valid_time', 'date'}
VERTICAL_NAMES = {'level', 'lev', 'plev', 'pressure_level', 'isobaricinhpa', 'depth', 'height', 'altitude', 'z'}


def _attr(var: xr.DataArray, key: str) -> str:
    value = var.attrs.get(key, var.encoding.get(key, ''))
    return str(value).strip().lower() if value is not None else ''


def axis_kind(var: xr.DataArray) -> str | None:
    """'x', 'y', 't', 'z' or None for one coordinate variable."""
    standard_name = _attr(var, 'standard_name')
    units = _attr(var, 'units').replace(' ', '')
    axis = _attr(var, 'axis')
    if standard_name == 'latitude' or units in LAT_UNITS:
        return 'y'
    if standard_name == 'longitude' or units in LON_UNITS:
        return 'x'
    if standard_name in ('projection_x_coordinate', 'grid_longitude'):
        return 'x'
    if standard_name in ('projection_y_coordinate', 'grid_latitude'):
        return 'y'
    if standard_name == 'time' or np.issubdtype(var.dtype, np.datetime64) or var.dtype == object and _is_cftime(var):
        return 't'
    if standard_name in VERTICAL_STANDARD_NAMES or _attr(var, 'positive') in ('up', 'down'):
        return 'z'
    if axis in ('x', 'y', 't', 'z'):
        return axis
    if units in PRESSURE_UNITS:
        return 'z'
    name = str(var.name).lower()
    if name in LAT_NAMES:
        return 'y'
    if name in LON_NAMES or name in ('x', 'easting'):
        return 'x'
    if name in ('y', 'northing'):
        return 'y'
    if name in TIME_NAMES:
        return 't'
    if name in VERTICAL_NAMES:
        return 'z'
    return None


def _is_cftime(var: xr.DataArray) -> bool:
    try:
        import cftime
        sample = var.values.flat[0] if var.size else None
        return isinstance(sample, cftime.datetime)
    except ImportError:  # pragma: no cover - cftime comes with our pins
        return False


def find_axes(ds: xr.Dataset) -> dict[str, str]:
    """Map 'x'/'y'/'t'/'z' to the name of the 1-D dimension coordinate carrying it.

    Only dimension coordinates (1-D, named like their dimension) qualify: they
    are what index the data. Other dimensions become custom dimensions.
    """
    found: dict[str, str] = {}
    for name in ds.dims:
        if name not in ds.coords:
            continue
        var = ds.coords[name]
        if var.ndim != 1:
            continue
        kind = axis_kind(var)
        if kind and kind not in found:
            found[kind] = str(name)
    return found


def is_lonlat(var: xr.DataArray) -> bool:
    """Whether a coordinate is CF longitude or latitude (degrees), not a projected x/y."""
    standard_name = _attr(var, 'standard_name')
    units = _attr(var, 'units').replace(' ', '')
    return standard_name in ('longitude', 'latitude') or units in LON_UNITS | LAT_UNITS or (
        not units and str(var.name).lower() in LAT_NAMES | LON_NAMES)
