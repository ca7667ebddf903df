"""Blocks -> NetCDF (application/x-netcdf), CF conventions, coordinates and attributes kept.

Grids become (time, <vertical>, latitude, longitude) variables (projected grids
keep their x/y and a grid mapping). Point answers follow CF discrete sampling
geometries (chapter 9, orthogonal / multidimensional representations):

* position (and mesh regions): featureType point (no time or vertical axis),
  timeSeries (time), profile (vertical) or timeSeriesProfile (both), on a
  `station` instance dimension with a cf_role id variable;
* trajectory: featureType trajectory with time (and the vertical) along `obs`;
  several requested steps / levels / members give one trajectory each on a
  `trajectory` dimension.

Coordinates carry no _FillValue; the vertical keeps the dataset's own name.
Written as NetCDF-3 (64-bit offset) by xarray's scipy engine.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from ..core.model import GridModel
from ..core.blocks import Block
from ..core.times import UNITS

MEDIA_TYPE = 'application/x-netcdf'
LON = {'standard_name': 'longitude', 'units': 'degrees_east', 'axis': 'X'}
LAT = {'standard_name': 'latitude', 'units': 'degrees_north', 'axis': 'Y'}
NO_FILL = {'_FillValue': None}          # CF: coordinates hold no missing values
FEATURE_RANK = {'point': 1, 'timeSeries': 2, 'profile': 2, 'trajectory': 2, 'timeSeriesProfile': 3}
SKIP_ATTRS = ('_FillValue', 'missing_value', 'scale_factor', 'add_offset', 'grid_mapping', 'coordinates')


def _clean(attrs: dict) -> dict:
    """NetCDF attributes hold strings and numbers only (not _CRS dicts or convention lists)."""
    return {k: v for k, v in attrs.items() if k not in SKIP_ATTRS and isinstance(v, (str, int, float, np.number))}


def _coord(dims, values, attrs) -> xr.Variable:
    return xr.Variable(dims, values, attrs, encoding=dict(NO_FILL))


def _time_coord(seconds, dims, model: GridModel) -> xr.Variable:
    attrs = {'standard_name': 'time', 'long_name': 'time', 'units': UNITS,
             'calendar': model.calendar or 'proleptic_gregorian', 'axis': 'T'}
    return _coord(dims, np.asarray(seconds, dtype='float64'), attrs)


def _z_name(model: GridModel) -> str:
    return model.z or 'z'


def _z_coord(values, dims, model: GridModel) -> xr.Variable:
    return _coord(dims, np.asarray(values), {**_clean(model.z_attrs), 'axis': 'Z'})


def _custom_coord(key, values, dims, model: GridModel) -> xr.Variable:
    return _coord(dims, np.asarray(values), _clean(model.custom[key].attrs))


def _axis_coord(key, values, dims, model: GridModel) -> xr.Variable:
    if key == 't':
        return _time_coord(values, dims, model)
    if key == 'z':
        return _z_coord(values, dims, model)
    return _custom_coord(key, values, dims, model)


def _dim_name(key: str, model: GridModel) -> str:
    return {'t': 'time', 'z': _z_name(model)}.get(key, key)


def _data_attrs(model: GridModel, name: str) -> dict:
    return _clean(model.variables[name].attrs)


def _data_var(dims, array, attrs) -> xr.Variable:
    return xr.Variable(dims, np.asarray(array, dtype='float64'), attrs, encoding={'_FillValue': np.nan})


def _point_lonlat(block: Block, model: GridModel) -> np.ndarray:
    xy = block.point_xy
    if block.native_xy:
        xy = np.column_stack(model.lonlat(xy[:, 0], xy[:, 1]))
    return np.asarray(xy, dtype='float64')


def _grid_dataset(block: Block, model: GridModel, suffix: str) -> xr.Dataset:
    dims, coords = [], {}
    for key, values in block.axes.items():
        if key in ('x', 'y'):
            continue
        name = _dim_name(key, model) + suffix
        dims.append(name)
        coords[name] = _axis_coord(key, values, (name,), model)
    grid_mapping = None
    if block.cell_lonlat is not None:
        # projected: native x/y dimensions, 2-D longitude/latitude, and the CRS as a CF grid mapping
        y, x = 'y' + suffix, 'x' + suffix
        dims += [y, x]
        lon_attrs, lat_attrs = LON, LAT
        if model.projected:   # CF keeps a projected grid on its own x/y, whatever crs the answer was asked in
            coords[y] = _coord((y,), block.axes['y'], {'standard_name': 'projection_y_coordinate',
                                                       'units': 'm', 'axis': 'Y'})
            coords[x] = _coord((x,), block.axes['x'], {'standard_name': 'projection_x_coordinate',
                                                       'units': 'm', 'axis': 'X'})
            grid_mapping = 'crs' + suffix
            mapping = {k: v for k, v in model.crs.to_cf().items() if isinstance(v, (str, int, float))}
            coords[grid_mapping] = xr.Variable((), 0, mapping)
            # one axis X/Y per data variable: the projection coordinates carry it
            lon_attrs = {k: v for k, v in LON.items() if k != 'axis'}
            lat_attrs = {k: v for k, v in LAT.items() if k != 'axis'}
        else:   # curvilinear: x/y are the cells' indices in the stored grid
            coords[y] = _coord((y,), block.axes['y'].astype('int32'), {'long_name': 'cell row in the grid'})
            coords[x] = _coord((x,), block.axes['x'].astype('int32'), {'long_name': 'cell column in the grid'})
        coords['longitude' + suffix] = _coord((y, x), block.cell_lonlat[0], lon_attrs)
        coords['latitude' + suffix] = _coord((y, x), block.cell_lonlat[1], lat_attrs)
    else:
        dims += ['latitude' + suffix, 'longitude' + suffix]
        coords['latitude' + suffix] = _coord(('latitude' + suffix,), block.axes['y'], LAT)
        coords['longitude' + suffix] = _coord(('longitude' + suffix,), block.axes['x'], LON)
    data_vars = {}
    for name, array in block.values.items():
        attrs = _data_attrs(model, name)
        if grid_mapping:
            attrs['grid_mapping'] = grid_mapping
        data_vars[name + suffix] = _data_var(dims, array, attrs)
    return xr.Dataset(data_vars, coords)


def _station_dataset(block: Block, model: GridModel, suffix: str) -> xr.Dataset:
    """Points: CF point / timeSeries / profile / timeSeriesProfile (orthogonal multidimensional)."""
    has_t = 't' in block.axes
    feature = _feature_of(block)
    station = 'station' + suffix
    keys = list(block.axes)
    # CF order: instance dimension, then time, then the vertical (custom dimensions stay in front)
    order = [k for k in keys if k not in ('point', 't', 'z')] + ['point'] + [k for k in ('t', 'z') if k in keys]
    dims = [station if k == 'point' else _dim_name(k, model) + suffix for k in order]
    coords = {}
    for key, dim in zip(order, dims):
        if key != 'point':
            coords[dim] = _axis_coord(key, block.axes[key], (dim,), model)
    lonlat = _point_lonlat(block, model)
    coords['longitude' + suffix] = _coord((station,), lonlat[:, 0], LON)
    coords['latitude' + suffix] = _coord((station,), lonlat[:, 1], LAT)
    data_vars = {}
    if feature != 'point':
        role = 'timeseries_id' if has_t else 'profile_id'
        id_name = ('station_id' if has_t else 'profile_id') + suffix
        data_vars[id_name] = xr.Variable((station,), np.arange(lonlat.shape[0], dtype='int32'),
                                         {'cf_role': role, 'long_name': 'position index in the request'})
    axes = [keys.index(k) for k in order]
    for name, array in block.values.items():
        data_vars[name + suffix] = _data_var(dims, np.transpose(np.asarray(array), axes), _data_attrs(model, name))
    ds = xr.Dataset(data_vars, coords)
    ds.attrs['featureType'] = feature
    return ds


def _trajectory_dataset(block: Block, model: GridModel, suffix: str) -> xr.Dataset:
    """CF trajectory: time and the vertical along obs; one trajectory per requested step, level or member."""
    obs = 'obs' + suffix
    keys = list(block.axes)
    instance = [k for k in keys if k != 'point']                 # axes not resolved per vertex
    sizes = [block.axes[k].size for k in instance]
    n, count = int(block.axes['point'].size), int(np.prod(sizes, dtype=int))
    # each instance axis value per trajectory (row-major over the instance axes)
    labels = dict(zip(instance, (block.axes[k][i.ravel()] for k, i in
                                 zip(instance, np.meshgrid(*[np.arange(s) for s in sizes], indexing='ij')))))
    single = count == 1
    traj = 'trajectory' + suffix
    dims = (obs,) if single else (traj, obs)
    shape = (n,) if single else (count, n)

    def along(per_vertex, key):
        """A coordinate along obs: the vertex's own value, or its trajectory's."""
        if per_vertex is not None:
            return np.broadcast_to(np.asarray(per_vertex, dtype='float64'), shape)
        return np.broadcast_to(np.asarray(labels[key], dtype='float64')[:, None], (count, n)).reshape(shape)

    coords = {}
    lonlat = _point_lonlat(block, model)
    coords['longitude' + suffix] = _coord(dims, np.broadcast_to(lonlat[:, 0], shape).copy(), LON)
    coords['latitude' + suffix] = _coord(dims, np.broadcast_to(lonlat[:, 1], shape).copy(), LAT)
    if block.point_t is not None or 't' in instance:
        coords['time' + suffix] = _time_coord(along(block.point_t, 't').copy(), dims, model)
    if block.point_z is not None or 'z' in instance:
        coords[_z_name(model) + suffix] = _z_coord(along(block.point_z, 'z').copy(), dims, model)
    for key in instance:
        if key not in ('t', 'z'):
            values = labels[key]
            coords[key + suffix] = _custom_coord(key, values[0] if single else values, () if single else (traj,),
                                                 model)
    data_vars = {'trajectory_id' + suffix: xr.Variable(
        () if single else (traj,), np.int32(0) if single else np.arange(count, dtype='int32'),
        {'cf_role': 'trajectory_id', 'long_name': 'trajectory index in the answer'})}
    for name, array in block.values.items():
        array = np.moveaxis(np.asarray(array, dtype='float64'), keys.index('point'), -1).reshape(shape)
        data_vars[name + suffix] = _data_var(dims, array, _data_attrs(model, name))
    ds = xr.Dataset(data_vars, coords)
    ds.attrs['featureType'] = 'trajectory'
    return ds


def _block_dataset(block: Block, model: GridModel, suffix: str) -> xr.Dataset:
    if block.kind == 'grid':
        return _grid_dataset(block, model, suffix)
    if block.kind == 'trajectory':
        return _trajectory_dataset(block, model, suffix)
    return _station_dataset(block, model, suffix)


def _describe_group(block: Block, model: GridModel) -> dict:
    """What tells a suffixed group from the others: its centre when the block knows it, else its extent."""
    out = {}
    centre = block.centre
    if centre is not None:
        out['block_centre_lon'], out['block_centre_lat'] = float(centre[0]), float(centre[1])
        out['block_centre'] = f'POINT({float(centre[0]):g} {float(centre[1]):g})'
    if block.kind == 'grid':
        if block.cell_lonlat is not None:
            lon, lat = block.cell_lonlat
        else:
            lon, lat = np.meshgrid(block.axes['x'], block.axes['y'])
        answered = np.zeros(lon.shape, bool)
        for array in block.values.values():
            answered |= ~np.isnan(np.asarray(array, dtype='float64')).reshape((-1,) + lon.shape).all(axis=0)
        lon, lat = (lon[answered], lat[answered]) if answered.any() else (lon.ravel(), lat.ravel())
    else:
        lon, lat = _point_lonlat(block, model).T
    out['block_lon_range'] = [float(np.min(lon)), float(np.max(lon))]
    out['block_lat_range'] = [float(np.min(lat)), float(np.max(lat))]
    return out


def encode(blocks: list[Block], model: GridModel, multi: bool = False) -> bytes:
    """One dataset; blocks on different windows (several radius centres) get suffixed names."""
    parts, groups, features = [], [], []
    coordinates: dict[str, dict] = {}          # suffix -> the coordinates its group holds so far
    names: dict[str, set] = {}                 # suffix -> the variable names its group holds
    for i, block in enumerate(blocks):
        plain = _block_dataset(block, model, '')
        # a block joins the first group whose shared coordinates it matches exactly (several parameter
        # groups on one window); another window (each radius centre) gets its own suffixed names. Decided
        # here and merged once at the end: merging as we go was quadratic (25 s for 101 centres)
        suffix = next((key for key, held in coordinates.items()
                       if _fits(held, plain) and not (names[key] & set(plain.data_vars))), None)
        if suffix is None:
            suffix = '' if not coordinates else f'_{i}'
            coordinates[suffix], names[suffix] = {}, set()
        # groups are compared by their unsuffixed names
        coordinates[suffix].update({name: plain[name].variable for name in plain.coords})
        names[suffix] |= set(plain.data_vars)
        part = plain if suffix == '' else _block_dataset(block, model, suffix)
        parts.append(part)
        features.append(None if block.kind == 'grid' else _feature_of(block))
        groups.append((block, suffix))
    ds = xr.merge(parts, compat='override', join='outer', combine_attrs='override') if len(parts) > 1 else parts[0]
    if any(suffix for _block, suffix in groups):
        # say which block each group of names belongs to (e.g. each radius centre)
        for index, (block, suffix) in enumerate(groups):
            description = {'block_index': index, **_describe_group(block, model)}
            for name in list(block.values):
                ds[name + suffix].attrs.update(description)
    points = [f for f in features if f]
    ds.attrs = {k: v for k, v in model.attrs.items() if isinstance(v, (str, int, float))}
    if points:
        ds.attrs['featureType'] = max(points, key=FEATURE_RANK.get)
    ds.attrs['Conventions'] = 'CF-1.8'
    ds.attrs['source'] = 'kazarr_provider EDR query'
    for name in ds.variables:
        ds[name].encoding.pop('dtype', None)
    return bytes(ds.to_netcdf(format='NETCDF3_64BIT', engine='scipy'))


def _fits(held: dict, part: xr.Dataset) -> bool:
    """Whether every coordinate `part` shares with a group is the same there (dims and values)."""
    for name in part.coords:
        if name in held:
            mine, theirs = part[name].variable, held[name]
            if mine.dims != theirs.dims or not mine.equals(theirs):
                return False
    # a dimension of the same name must also have the same length
    sizes = {dim: size for variable in held.values() for dim, size in zip(variable.dims, variable.shape)}
    return all(sizes.get(dim, size) == size for dim, size in part.sizes.items())


def _feature_of(block: Block) -> str:
    if block.kind == 'trajectory':
        return 'trajectory'
    has_t, has_z = 't' in block.axes, 'z' in block.axes
    return {(False, False): 'point', (True, False): 'timeSeries', (False, True): 'profile',
            (True, True): 'timeSeriesProfile'}[(has_t, has_z)]
