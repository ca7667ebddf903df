"""Blocks -> NetCDF (application/x-netcdf), CF conventions, coordinates and attributes kept.

Grids become (time, z, latitude, longitude) variables; point answers follow
CF discrete sampling geometries (featureType point / timeSeries / trajectory).
Written as NetCDF-3 (64-bit offset) by xarray's scipy engine.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from ..core.model import GridModel
from ..core.select import Block
from ..core.times import UNITS

MEDIA_TYPE = 'application/x-netcdf'
LON = {'standard_name': 'longitude', 'units': 'degrees_east', 'axis': 'X'}
LAT = {'standard_name': 'latitude', 'units': 'degrees_north', 'axis': 'Y'}


def _time_coord(seconds: np.ndarray, dims, model: GridModel) -> xr.Variable:
    attrs = {'standard_name': 'time', 'units': UNITS, 'calendar': model.calendar or 'proleptic_gregorian'}
    return xr.Variable(dims, np.asarray(seconds, dtype='float64'), attrs)


def _block_dataset(block: Block, model: GridModel, suffix: str) -> xr.Dataset:
    dims, coords = [], {}
    for key, values in block.axes.items():
        if key in ('x', 'y', 'point'):
            continue
        if key == 't':
            dims.append('time' + suffix)
            coords['time' + suffix] = _time_coord(values, ('time' + suffix,), model)
        elif key == 'z':
            dims.append('z' + suffix)
            coords['z' + suffix] = xr.Variable(('z' + suffix,), values, {**model.z_attrs, 'axis': 'Z'})
        else:
            dims.append(key + suffix)
            coords[key + suffix] = xr.Variable((key + suffix,), values, dict(model.custom[key].attrs))
    grid_mapping = None
    if block.kind == 'grid' and block.cell_lonlat is not None:
        # projected: native x/y dimensions, 2-D longitude/latitude, and the CRS as a CF grid mapping
        y, x = 'y' + suffix, 'x' + suffix
        dims += [y, x]
        if model.projected:   # CF keeps a projected grid on its own x/y, whatever crs the answer was asked in
            coords[y] = xr.Variable((y,), block.axes['y'], {'standard_name': 'projection_y_coordinate',
                                                            'units': 'm', 'axis': 'Y'})
            coords[x] = xr.Variable((x,), block.axes['x'], {'standard_name': 'projection_x_coordinate',
                                                            'units': 'm', 'axis': 'X'})
            grid_mapping = 'crs' + suffix
            mapping = {k: v for k, v in model.crs.to_cf().items() if isinstance(v, (str, int, float))}
            coords[grid_mapping] = xr.Variable((), 0, mapping)
        else:   # curvilinear: x/y are the cells' indices in the stored grid
            coords[y] = xr.Variable((y,), block.axes['y'].astype('int32'), {'long_name': 'cell row in the grid'})
            coords[x] = xr.Variable((x,), block.axes['x'].astype('int32'), {'long_name': 'cell column in the grid'})
        coords['longitude' + suffix] = xr.Variable((y, x), block.cell_lonlat[0], LON)
        coords['latitude' + suffix] = xr.Variable((y, x), block.cell_lonlat[1], LAT)
        feature = None
    elif block.kind == 'grid':
        dims += ['latitude' + suffix, 'longitude' + suffix]
        coords['latitude' + suffix] = xr.Variable(('latitude' + suffix,), block.axes['y'], LAT)
        coords['longitude' + suffix] = xr.Variable(('longitude' + suffix,), block.axes['x'], LON)
        feature = None
    else:
        point = ('obs' if block.kind == 'trajectory' else 'station') + suffix
        dims.append(point)
        xy = block.point_xy
        if block.native_xy:
            xy = np.column_stack(model.lonlat(xy[:, 0], xy[:, 1]))
        coords['longitude' + suffix] = xr.Variable((point,), xy[:, 0], LON)
        coords['latitude' + suffix] = xr.Variable((point,), xy[:, 1], LAT)
        if block.point_t is not None:
            coords['time' + suffix] = _time_coord(block.point_t, (point,), model)
        if block.point_z is not None:
            coords['z' + suffix] = xr.Variable((point,), block.point_z, dict(model.z_attrs))
        feature = 'trajectory' if block.kind == 'trajectory' else ('timeSeries' if 't' in block.axes else 'point')
    data_vars = {}
    for name, array in block.values.items():
        # NetCDF attributes hold strings and numbers only (not _CRS dicts or convention lists)
        attrs = {k: v for k, v in model.variables[name].attrs.items()
                 if k not in ('_FillValue', 'missing_value', 'scale_factor', 'add_offset', 'grid_mapping')
                 and isinstance(v, (str, int, float, np.number))}
        if grid_mapping:
            attrs['grid_mapping'] = grid_mapping
        data_vars[name + suffix] = xr.Variable(dims, np.asarray(array, dtype='float64'), attrs,
                                               encoding={'_FillValue': np.nan})
    ds = xr.Dataset(data_vars, coords)
    if feature:
        ds.attrs['featureType'] = feature
    return ds


def encode(blocks: list[Block], model: GridModel, multi: bool = False) -> bytes:
    """One dataset; blocks on different windows (several radius centres) get suffixed names."""
    datasets = []
    for i, block in enumerate(blocks):
        candidate = _block_dataset(block, model, '')
        try:
            merged = xr.merge(datasets + [candidate], compat='identical', join='exact') if datasets else candidate
            datasets = [merged]
        except (ValueError, xr.MergeError):
            datasets = [xr.merge(datasets + [_block_dataset(block, model, f'_{i}')])]
    ds = datasets[0]
    ds.attrs.update({k: v for k, v in model.attrs.items() if isinstance(v, (str, int, float))})
    ds.attrs['Conventions'] = 'CF-1.8'
    ds.attrs['source'] = 'kazarr_provider EDR query'
    for name in ds.variables:
        ds[name].encoding.pop('dtype', None)
    return bytes(ds.to_netcdf(format='NETCDF3_64BIT'))
