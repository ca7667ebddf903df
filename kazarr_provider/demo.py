"""Small but realistic GeoZarr stores carrying analytic fields.

Each field is a closed formula of (lon, lat, level, time), so a test can
compute the expected value at any cell from the formula alone.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

ERA5_START = np.datetime64('2024-01-01T00:00:00', 'ns')
ERA5_LEVELS = np.array([1000.0, 850.0, 700.0, 500.0, 300.0])
SST_START = np.datetime64('2024-07-01T00:00:00', 'ns')


def era5_temperature(lon, lat, level, hours):
    """Kelvin; `hours` since 2024-01-01T00Z."""
    lon, lat = np.radians(lon), np.radians(lat)
    return 220.0 + 60.0 * np.cos(lat) + 5.0 * np.sin(lon) + 0.03 * level + 0.25 * hours


def era5_wind(lon, lat, level, hours):
    """m s-1, varies in every axis."""
    return 10.0 * np.sin(np.radians(lat) * 2.0) * np.cos(np.radians(lon)) + level / 100.0 - hours / 6.0


def era5_orography(lon, lat):
    """Metres; no level and no time (a second group of dimensions)."""
    return 1000.0 * (1.0 + np.sin(np.radians(lon)) * np.cos(np.radians(lat)))


def sst(lon, lat, days):
    """deg C; `days` since 2024-07-01T00Z."""
    return 20.0 + 5.0 * np.sin(np.radians(lon * 3.0)) * np.cos(np.radians(lat * 2.0)) + 0.1 * days


def sst_is_land(lon, lat):
    """An island: a disc of 1.5 degrees around (15E, 38N)."""
    return (np.asarray(lon) - 15.0) ** 2 + (np.asarray(lat) - 38.0) ** 2 < 1.5 ** 2


def ensemble_precip(lon, lat, member, hours):
    """mm; 3 members, published with a custom dimension `number`."""
    return 2.0 + np.cos(np.radians(lon)) + np.sin(np.radians(lat)) + member * 0.5 + hours / 24.0


def make_era5(path, zarr_format=3, consolidated=True, nlat=73, nlon=144, ntime=4):
    lat = np.linspace(90.0, -90.0, nlat)                  # descending, like ERA5
    lon = np.arange(nlon) * (360.0 / nlon)                # 0 .. 360
    times = ERA5_START + np.arange(ntime) * np.timedelta64(6, 'h')
    hours = np.arange(ntime) * 6.0
    T, Z, Y, X = np.meshgrid(hours, ERA5_LEVELS, lat, lon, indexing='ij')
    ds = xr.Dataset(
        {
            't': (('time', 'level', 'latitude', 'longitude'), era5_temperature(X, Y, Z, T).astype('float32'),
                  {'standard_name': 'air_temperature', 'long_name': 'Temperature', 'units': 'K'}),
            'u': (('time', 'level', 'latitude', 'longitude'), era5_wind(X, Y, Z, T).astype('float32'),
                  {'standard_name': 'eastward_wind', 'long_name': 'U component of wind', 'units': 'm s-1'}),
            'z_sfc': (('latitude', 'longitude'), era5_orography(*np.meshgrid(lon, lat)).astype('float32'),
                      {'long_name': 'Surface altitude', 'units': 'm'}),
            'quality': (('latitude', 'longitude'), np.ones((nlat, nlon), 'float32'),
                        {'long_name': 'Quality flag (no units)'}),
        },
        coords={
            'time': ('time', times, {'standard_name': 'time', 'axis': 'T'}),
            'level': ('level', ERA5_LEVELS, {'long_name': 'pressure', 'units': 'hPa', 'positive': 'down',
                                             'standard_name': 'air_pressure', 'axis': 'Z'}),
            'latitude': ('latitude', lat, {'standard_name': 'latitude', 'units': 'degrees_north'}),
            'longitude': ('longitude', lon, {'standard_name': 'longitude', 'units': 'degrees_east'}),
        },
        attrs={'title': 'ERA5-like pressure levels', 'description':
               'Global 2.5 degree analytic fields on 5 pressure levels, 6-hourly (demo).'},
    )
    encoding = {v: {'chunks': (1, 1, min(nlat, 37), min(nlon, 72))} for v in ('t', 'u')}
    encoding['time'] = {'units': 'hours since 2024-01-01 00:00:00', 'calendar': 'proleptic_gregorian',
                        'dtype': 'int64'}
    ds.to_zarr(path, mode='w', zarr_format=zarr_format, consolidated=consolidated, encoding=encoding)
    return ds


def make_sst(path, zarr_format=2, consolidated=True):
    lon = np.round(np.arange(-6.0, 36.0, 0.1) + 0.05, 6)
    lat = np.round(np.arange(30.0, 46.0, 0.1) + 0.05, 6)
    days = np.arange(3.0)
    D, Y, X = np.meshgrid(days, lat, lon, indexing='ij')
    values = sst(X, Y, D)
    values[:, sst_is_land(X[0], Y[0])] = np.nan
    ds = xr.Dataset(
        {'analysed_sst': (('time', 'lat', 'lon'), values,
                          {'standard_name': 'sea_surface_temperature', 'long_name': 'Analysed SST',
                           'units': 'degC'})},
        coords={
            'time': ('time', SST_START + (days * 86400e9).astype('timedelta64[ns]'), {'standard_name': 'time'}),
            'lat': ('lat', lat, {'units': 'degrees_north'}),
            'lon': ('lon', lon, {'units': 'degrees_east'}),
        },
        attrs={'title': 'SST-like regional analysis', 'description':
               'Mediterranean 0.1 degree packed int16 analytic SST with a land mask (demo).'},
    )
    encoding = {
        'analysed_sst': {'dtype': 'int16', 'scale_factor': 0.001, 'add_offset': 20.0, '_FillValue': -32768,
                         'chunks': (1, 80, 105)},
        'time': {'units': 'days since 1981-01-01', 'calendar': 'gregorian', 'dtype': 'int32'},
    }
    ds.to_zarr(path, mode='w', zarr_format=zarr_format, consolidated=consolidated, encoding=encoding)
    return ds


def make_ensemble(path, zarr_format=2, consolidated=False):
    lon = (np.arange(-180.0, 180.0, 5.0) + 2.5).astype('float32')   # float32 coordinates
    lat = (np.arange(-60.0, 60.0, 5.0) + 2.5).astype('float32')
    members = np.arange(3)
    hours = np.arange(2) * 12.0
    T, M, Y, X = np.meshgrid(hours, members, lat.astype('float64'), lon.astype('float64'), indexing='ij')
    ds = xr.Dataset(
        {'tp': (('time', 'number', 'lat', 'lon'), ensemble_precip(X, Y, M, T).astype('float32'),
                {'long_name': 'Total precipitation', 'units': 'mm'})},
        coords={
            'time': ('time', ERA5_START + (hours * 3600e9).astype('timedelta64[ns]')),
            'number': ('number', members, {'long_name': 'ensemble member'}),
            'lat': ('lat', lat, {'standard_name': 'latitude', 'units': 'degrees_north'}),
            'lon': ('lon', lon, {'standard_name': 'longitude', 'units': 'degrees_east'}),
        },
        attrs={'title': 'Ensemble precipitation'},
    )
    ds.to_zarr(path, mode='w', zarr_format=zarr_format, consolidated=consolidated,
               encoding={'time': {'units': 'hours since 2024-01-01', 'dtype': 'int32'}})
    return ds


def bilinear_field(lon, lat, hours=0.0):
    """Bilinear in lon/lat and linear in time: linear interpolation must be exact."""
    return 100.0 + 2.0 * lon - 3.0 * lat + 0.05 * lon * lat + 0.5 * hours


def cubic_field(lon, lat):
    """Cubic in each of lon and lat: cubic interpolation must be exact."""
    return (lon / 10.0) ** 3 - 2.0 * (lat / 10.0) ** 3 + lon * lat / 50.0 + (lon / 10.0) ** 2


def make_polynomial(path):
    """A regional 1 degree grid of polynomial fields, 3 six-hourly steps (interpolation tests)."""
    lon = np.arange(-30.0, 30.5, 1.0)
    lat = np.arange(20.0, -20.5, -1.0)
    hours = np.arange(3) * 6.0
    T, Y, X = np.meshgrid(hours, lat, lon, indexing='ij')
    ds = xr.Dataset(
        {'bilinear': (('time', 'lat', 'lon'), bilinear_field(X, Y, T), {'units': '1'}),
         'cubic': (('lat', 'lon'), cubic_field(X[0], Y[0]), {'units': '1'})},
        coords={'time': ('time', ERA5_START + (hours * 3600e9).astype('timedelta64[ns]')),
                'lat': ('lat', lat, {'units': 'degrees_north'}), 'lon': ('lon', lon, {'units': 'degrees_east'})},
        attrs={'title': 'Polynomial fields'},
    )
    ds.to_zarr(path, mode='w', zarr_format=3, consolidated=True, encoding={'bilinear': {'chunks': (1, 20, 20)}})
    return ds


def lonlat_field(lon, lat):
    """A field of longitude and latitude for projected grids: checked in lon/lat whatever the grid."""
    return 10.0 + 5.0 * np.sin(np.radians(lon)) * np.cos(np.radians(lat)) + lat / 10.0


def _projected(crs_code: str, x, y, attrs: dict, var_attrs: dict, times: int = 0) -> xr.Dataset:
    from pyproj import Transformer
    to_lonlat = Transformer.from_crs(crs_code, 'OGC:CRS84', always_xy=True)
    X, Y = np.meshgrid(x, y)
    lon, lat = to_lonlat.transform(X, Y)
    field = lonlat_field(lon, lat).astype('float32')
    coords = {'x': ('x', x, {'standard_name': 'projection_x_coordinate', 'units': 'm'}),
              'y': ('y', y, {'standard_name': 'projection_y_coordinate', 'units': 'm'})}
    dims = ('y', 'x')
    if times:
        field = np.stack([field + k for k in range(times)])
        dims = ('time', 'y', 'x')
        coords['time'] = ('time', SST_START + np.arange(times) * np.timedelta64(1, 'D'))
    return xr.Dataset({'b04': (dims, field, {'long_name': 'Analytic band', 'units': '1', **var_attrs})},
                      coords=coords, attrs=attrs)


def make_utm(path):
    """Sentinel-2-like UTM 32N tile (1 km pixels here) described by geo-proj and spatial conventions."""
    from .core.crs import PROJ_UUID, SPATIAL_UUID
    x = 300000.0 + 1000.0 * (np.arange(120) + 0.5)
    y = 5100000.0 - 1000.0 * (np.arange(100) + 0.5)
    attrs = {'title': 'UTM tile', 'zarr_conventions': [{'uuid': PROJ_UUID, 'name': 'proj:'},
                                                       {'uuid': SPATIAL_UUID, 'name': 'spatial:'}],
             'proj:code': 'EPSG:32632', 'spatial:transform': [1000.0, 0.0, 300000.0, 0.0, -1000.0, 5100000.0]}
    ds = _projected('EPSG:32632', x, y, attrs, {}, times=2)
    ds.to_zarr(path, mode='w', zarr_format=3, consolidated=True, encoding={'b04': {'chunks': (1, 50, 60)}})
    return ds


def make_polar(path):
    """Sea-ice-like polar stereographic north (EPSG:3413), its CRS given only by GDAL's _CRS."""
    x = -2000000.0 + 50000.0 * (np.arange(80) + 0.5)
    y = 2000000.0 - 50000.0 * (np.arange(80) + 0.5)
    ds = _projected('EPSG:3413', x, y, {'title': 'Polar stereographic'},
                    {'_CRS': {'url': 'http://www.opengis.net/def/crs/EPSG/0/3413'}})
    ds.to_zarr(path, mode='w', zarr_format=2, consolidated=True, encoding={'b04': {'chunks': (40, 40)}})
    return ds


def rotated_lonlat():
    """2-D lon/lat of a rotated-pole grid (pole at 190E 40N, 0.5 degree cells, 60 x 80)."""
    from pyproj import CRS, Transformer
    rotated = CRS.from_cf({'grid_mapping_name': 'rotated_latitude_longitude', 'grid_north_pole_longitude': 190.0,
                           'grid_north_pole_latitude': 40.0})
    rlon = -20.0 + 0.5 * (np.arange(80) + 0.5)
    rlat = -15.0 + 0.5 * (np.arange(60) + 0.5)
    RX, RY = np.meshgrid(rlon, rlat)
    return Transformer.from_crs(rotated, 'OGC:CRS84', always_xy=True).transform(RX, RY)


def make_curvilinear(path):
    """An ocean-model-like curvilinear grid: only 2-D lon/lat coordinates, no 1-D axes."""
    lon, lat = rotated_lonlat()
    ds = xr.Dataset(
        {'thetao': (('nj', 'ni'), lonlat_field(lon, lat).astype('float32'),
                    {'long_name': 'Analytic temperature', 'units': 'degC', 'coordinates': 'lon lat'})},
        coords={'lon': (('nj', 'ni'), lon, {'standard_name': 'longitude', 'units': 'degrees_east'}),
                'lat': (('nj', 'ni'), lat, {'standard_name': 'latitude', 'units': 'degrees_north'})},
        attrs={'title': 'Curvilinear (rotated pole) grid'})
    ds.to_zarr(path, mode='w', zarr_format=3, consolidated=True, encoding={'thetao': {'chunks': (30, 40)}})
    return ds


def mesh_nodes():
    """Node lon/lat of the demo triangle mesh: a jittered 0.25 degree lattice over the Bay of Biscay."""
    lon, lat = np.meshgrid(np.arange(-10.0, 0.01, 0.25), np.arange(43.0, 48.01, 0.25))
    rng = np.random.default_rng(42)
    jitter = rng.uniform(-0.06, 0.06, size=(2,) + lon.shape)
    jitter[:, [0, -1], :] = 0.0
    jitter[:, :, [0, -1]] = 0.0
    return lon + jitter[0], lat + jitter[1]


def linear_field(lon, lat):
    """Linear in lon/lat: barycentric interpolation on triangles must be exact."""
    return 2.0 * lon + 3.0 * lat + 1.0


def make_mesh(path):
    """A UGRID triangle mesh (1-based connectivity) with data on nodes and on faces."""
    lon, lat = mesh_nodes()
    ny, nx = lon.shape
    index = np.arange(ny * nx).reshape(ny, nx)
    quads = np.stack([index[:-1, :-1], index[:-1, 1:], index[1:, 1:], index[1:, :-1]], -1).reshape(-1, 4)
    faces = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    node_lon, node_lat = lon.ravel(), lat.ravel()
    face_lon, face_lat = node_lon[faces].mean(axis=1), node_lat[faces].mean(axis=1)
    ds = xr.Dataset(
        {'mesh2d': ((), 0, {'cf_role': 'mesh_topology', 'topology_dimension': 2,
                            'node_coordinates': 'node_lon node_lat', 'face_node_connectivity': 'face_nodes',
                            'face_coordinates': 'face_lon face_lat'}),
         'face_nodes': (('nFaces', 'three'), (faces + 1).astype('int32'), {'cf_role': 'face_node_connectivity',
                                                                           'start_index': 1}),
         'zeta': (('time', 'nNodes'), np.stack([lonlat_field(node_lon, node_lat) + k for k in range(2)]),
                  {'long_name': 'Analytic surface elevation', 'units': 'm', 'mesh': 'mesh2d', 'location': 'node'}),
         'lin': (('nNodes',), linear_field(node_lon, node_lat), {'units': '1', 'mesh': 'mesh2d', 'location': 'node'}),
         'depth': (('nFaces',), lonlat_field(face_lon, face_lat),
                   {'units': 'm', 'mesh': 'mesh2d', 'location': 'face'})},
        coords={'node_lon': ('nNodes', node_lon, {'standard_name': 'longitude', 'units': 'degrees_east'}),
                'node_lat': ('nNodes', node_lat, {'standard_name': 'latitude', 'units': 'degrees_north'}),
                'face_lon': ('nFaces', face_lon, {'standard_name': 'longitude', 'units': 'degrees_east'}),
                'face_lat': ('nFaces', face_lat, {'standard_name': 'latitude', 'units': 'degrees_north'}),
                'time': ('time', SST_START + np.arange(2) * np.timedelta64(1, 'D'))},
        attrs={'title': 'UGRID triangle mesh', 'Conventions': 'CF-1.8 UGRID-1.0'})
    ds.to_zarr(path, mode='w', zarr_format=3, consolidated=True)
    return ds


def _write_levels(path, levels: dict[str, xr.Dataset], root_attrs: dict):
    import zarr
    for name, level in levels.items():
        level.to_zarr(path, group=name, mode='w' if name == next(iter(levels)) else 'a', zarr_format=3,
                      consolidated=False)
    root = zarr.open_group(path, mode='a', zarr_format=3)
    root.attrs.update(root_attrs)
    zarr.consolidate_metadata(path, zarr_format=3)


def make_utm_multiscales(path):
    """Sentinel-2-like multiscales (zarr-conventions layout): levels '0' (500 m), '1' (1 km), '2' (2 km)."""
    from .core.crs import MULTISCALES_UUID, PROJ_UUID, SPATIAL_UUID
    levels, layout = {}, []
    for k, cell in enumerate((500.0, 1000.0, 2000.0)):
        nx, ny = int(120000 / cell), int(100000 / cell)
        x = 300000.0 + cell * (np.arange(nx) + 0.5)
        y = 5100000.0 - cell * (np.arange(ny) + 0.5)
        transform = [cell, 0.0, 300000.0, 0.0, -cell, 5100000.0]
        levels[str(k)] = _projected('EPSG:32632', x, y, {'proj:code': 'EPSG:32632', 'spatial:transform': transform},
                                    {})
        item = {'asset': str(k), 'spatial:shape': [ny, nx], 'spatial:transform': transform}
        if k:
            item.update(derived_from='0', transform={'scale': [cell / 500.0] * 2, 'translation': [0.0, 0.0]})
        layout.append(item)
    _write_levels(path, levels, {
        'title': 'UTM multiscales', 'proj:code': 'EPSG:32632',
        'zarr_conventions': [{'uuid': MULTISCALES_UUID, 'name': 'multiscales'}, {'uuid': PROJ_UUID, 'name': 'proj:'},
                             {'uuid': SPATIAL_UUID, 'name': 'spatial:'}],
        'multiscales': {'layout': layout, 'resampling_method': 'average'}})


def make_tms_multiscales(path):
    """GeoZarr 0.4 style: a tile matrix set whose matrices '0' (1 deg), '1' (0.5), '2' (0.25) are child groups."""
    levels, matrices = {}, []
    for k, cell in enumerate((1.0, 0.5, 0.25)):
        lon = -20.0 + cell * (np.arange(int(40 / cell)) + 0.5)
        lat = 60.0 - cell * (np.arange(int(30 / cell)) + 0.5)
        X, Y = np.meshgrid(lon, lat)
        levels[str(k)] = xr.Dataset(
            {'b01': (('lat', 'lon'), lonlat_field(X, Y).astype('float32'), {'units': '1'})},
            coords={'lat': ('lat', lat, {'standard_name': 'latitude', 'units': 'degrees_north'}),
                    'lon': ('lon', lon, {'standard_name': 'longitude', 'units': 'degrees_east'})})
        matrices.append({'id': str(k), 'cellSize': cell, 'pointOfOrigin': [-20.0, 60.0],
                         'matrixWidth': int(40 / cell), 'matrixHeight': int(30 / cell)})
    _write_levels(path, levels, {'title': 'GeoZarr 0.4 tile matrix set', 'multiscales': {
        'tile_matrix_set': {'id': 'regional', 'crs': 'http://www.opengis.net/def/crs/OGC/1.3/CRS84',
                            'tileMatrices': matrices}, 'resampling_method': 'nearest'}})


def make_resolution_groups(path):
    """Sentinel-2-like bands at three resolutions in sibling groups r10m, r20m, r60m (here 1, 2 and 6 km)."""
    import zarr
    for k, (group, cell, band) in enumerate((('r10m', 1000.0, 'b02'), ('r20m', 2000.0, 'b05'),
                                             ('r60m', 6000.0, 'b09'))):
        nx, ny = int(60000 / cell), int(48000 / cell)
        x = 300000.0 + cell * (np.arange(nx) + 0.5)
        y = 5100000.0 - cell * (np.arange(ny) + 0.5)
        level = _projected('EPSG:32632', x, y, {'proj:code': 'EPSG:32632'}, {}).rename({'b04': band})
        level.to_zarr(path, group=group, mode='w' if k == 0 else 'a', zarr_format=3, consolidated=False)
    zarr.open_group(path, mode='a', zarr_format=3).attrs.update({'title': 'Sentinel-2-like resolution groups'})
    zarr.consolidate_metadata(path, zarr_format=3)


def make_undeclared_first_variable(path):
    """A lon/lat grid whose axes say only `axis: X/Y`; the first variable `ival` has no grid_mapping, `v` has one.

    The CRS (CF latitude_longitude) is declared by `v` only: it is the grid's CRS all the same.
    """
    lon = -10.0 + 0.5 * (np.arange(40) + 0.5)
    lat = 50.0 - 0.5 * (np.arange(30) + 0.5)
    X, Y = np.meshgrid(lon, lat)
    ds = xr.Dataset(
        {'ival': (('yc', 'xc'), np.round(lonlat_field(X, Y) * 100).astype('int32'), {'units': '0.01'}),
         'v': (('yc', 'xc'), lonlat_field(X, Y), {'units': '1', 'grid_mapping': 'crs'}),
         'crs': ((), 0, {'grid_mapping_name': 'latitude_longitude', 'semi_major_axis': 6378137.0,
                         'inverse_flattening': 298.257223563})},
        coords={'xc': ('xc', lon, {'axis': 'X'}), 'yc': ('yc', lat, {'axis': 'Y'})},
        attrs={'title': 'CRS declared by the second variable only'})
    ds.to_zarr(path, mode='w', zarr_format=3, consolidated=True)
    return ds


def make_utm_multiscales_root_crs(path, key='proj:code', coordinates=True):
    """Multiscales levels '0'..'3' (500 m .. 4 km, UTM 32N) carrying no CRS: only the multiscale root declares it.

    `key` is the geo-proj attribute used on the root (`proj:code`, `proj:wkt2` or `proj:projjson`); without
    `coordinates` the levels have no x/y arrays and only the layout items' `spatial:transform` place them.
    """
    from pyproj import CRS
    from .core.crs import MULTISCALES_UUID, PROJ_UUID, SPATIAL_UUID
    utm = CRS.from_epsg(32632)
    value = {'proj:code': 'EPSG:32632', 'proj:wkt2': utm.to_wkt(), 'proj:projjson': utm.to_json_dict()}[key]
    levels, layout = {}, []
    for k, cell in enumerate((500.0, 1000.0, 2000.0, 4000.0)):
        nx, ny = int(120000 / cell), int(100000 / cell)
        x = 300000.0 + cell * (np.arange(nx) + 0.5)
        y = 5100000.0 - cell * (np.arange(ny) + 0.5)
        level = _projected('EPSG:32632', x, y, {}, {})
        if not coordinates:
            level = level.drop_vars(['x', 'y'])
        levels[str(k)] = level
        item = {'asset': str(k), 'spatial:shape': [ny, nx],
                'spatial:transform': [cell, 0.0, 300000.0, 0.0, -cell, 5100000.0]}
        if k:
            item.update(derived_from='0', transform={'scale': [cell / 500.0] * 2, 'translation': [0.0, 0.0]})
        layout.append(item)
    _write_levels(path, levels, {
        'title': f'UTM multiscales, CRS only on the root ({key})', key: value,
        'zarr_conventions': [{'uuid': MULTISCALES_UUID, 'name': 'multiscales'}, {'uuid': PROJ_UUID, 'name': 'proj:'},
                             {'uuid': SPATIAL_UUID, 'name': 'spatial:'}],
        'multiscales': {'layout': layout, 'resampling_method': 'average'}})


def make_resolution_groups_root_crs(path):
    """Sentinel-2-like r10m/r20m groups (1 and 2 km here) whose CRS is `proj:code` on the product root only."""
    import zarr
    from .core.crs import PROJ_UUID
    for k, (group, cell, band) in enumerate((('r10m', 1000.0, 'b02'), ('r20m', 2000.0, 'b05'))):
        nx, ny = int(60000 / cell), int(48000 / cell)
        x = 300000.0 + cell * (np.arange(nx) + 0.5)
        y = 5100000.0 - cell * (np.arange(ny) + 0.5)
        level = _projected('EPSG:32632', x, y, {}, {}).rename({'b04': band})
        level.to_zarr(path, group=group, mode='w' if k == 0 else 'a', zarr_format=3, consolidated=False)
    zarr.open_group(path, mode='a', zarr_format=3).attrs.update({
        'title': 'Resolution groups, CRS on the root', 'proj:code': 'EPSG:32632',
        'zarr_conventions': [{'uuid': PROJ_UUID, 'name': 'proj:'}]})
    zarr.consolidate_metadata(path, zarr_format=3)


def make_tms_mercator(path):
    """GeoZarr 0.4 tile matrix set in Web Mercator: levels '0' (20 km), '1' (10 km) with plain x/y coordinates,
    their CRS given only by `multiscales.tile_matrix_set.crs`."""
    levels, matrices = {}, []
    for k, cell in enumerate((20000.0, 10000.0)):
        nx, ny = int(800000 / cell), int(600000 / cell)
        x = 0.0 + cell * (np.arange(nx) + 0.5)
        y = 6000000.0 - cell * (np.arange(ny) + 0.5)
        levels[str(k)] = _projected('EPSG:3857', x, y, {}, {})
        matrices.append({'id': str(k), 'cellSize': cell, 'pointOfOrigin': [0.0, 6000000.0],
                         'matrixWidth': nx, 'matrixHeight': ny})
    _write_levels(path, levels, {'title': 'GeoZarr 0.4 Web Mercator tile matrix set', 'multiscales': {
        'tile_matrix_set': {'id': 'mercator', 'crs': 'http://www.opengis.net/def/crs/EPSG/0/3857',
                            'tileMatrices': matrices}, 'resampling_method': 'nearest'}})


POLAR_CF = {'grid_mapping_name': 'polar_stereographic', 'straight_vertical_longitude_from_pole': -45.0,
            'standard_parallel': 70.0, 'latitude_of_projection_origin': 90.0, 'false_easting': 0.0,
            'false_northing': 0.0, 'semi_major_axis': 6378137.0, 'inverse_flattening': 298.257223563}


def make_polar_cf(path):
    """EPSG:3413 described only by CF grid_mapping parameters (no crs_wkt, no code), 50 km cells."""
    x = -2000000.0 + 50000.0 * (np.arange(80) + 0.5)
    y = 2000000.0 - 50000.0 * (np.arange(80) + 0.5)
    ds = _projected('EPSG:3413', x, y, {'title': 'Polar stereographic from CF parameters'}, {'grid_mapping': 'crs'})
    ds['crs'] = ((), 0, dict(POLAR_CF))
    ds.to_zarr(path, mode='w', zarr_format=2, consolidated=True, encoding={'b04': {'chunks': (40, 40)}})
    return ds


def make_transform_only(path, kind='spatial'):
    """A grid with no x/y coordinate arrays, placed only by its affine transform.

    `spatial`: UTM 32N, 1 km, `spatial:transform` + `spatial:shape` + `spatial:dimensions` on the array
    (dims named `row`/`col`) and `proj:code` on the group. `geotransform`: EPSG:3413, 50 km, CF `GeoTransform`
    (GDAL order, a string) and `crs_wkt` on the grid_mapping variable. `rotated`: like `spatial` with a
    rotated transform (b, d non-zero), which cannot be served.
    """
    from pyproj import CRS
    from .core.crs import PROJ_UUID, SPATIAL_UUID
    if kind == 'geotransform':
        x = -2000000.0 + 50000.0 * (np.arange(80) + 0.5)
        y = 2000000.0 - 50000.0 * (np.arange(60) + 0.5)
        ds = _projected('EPSG:3413', x, y, {'title': 'GeoTransform only'}, {'grid_mapping': 'crs'})
        ds = ds.drop_vars(['x', 'y'])
        ds['crs'] = ((), 0, {'grid_mapping_name': 'polar_stereographic',
                             'crs_wkt': CRS.from_epsg(3413).to_wkt(),
                             'GeoTransform': '-2000000.0 50000.0 0.0 2000000.0 0.0 -50000.0'})
    else:
        x = 300000.0 + 1000.0 * (np.arange(120) + 0.5)
        y = 5100000.0 - 1000.0 * (np.arange(100) + 0.5)
        transform = [1000.0, 0.0, 300000.0, 0.0, -1000.0, 5100000.0]
        if kind == 'rotated':
            transform = [999.0, 20.0, 300000.0, 20.0, -999.0, 5100000.0]
        attrs = {'title': 'spatial:transform only', 'proj:code': 'EPSG:32632',
                 'zarr_conventions': [{'uuid': PROJ_UUID, 'name': 'proj:'}, {'uuid': SPATIAL_UUID, 'name': 'spatial:'}]}
        ds = _projected('EPSG:32632', x, y, attrs, {'spatial:transform': transform, 'spatial:shape': [100, 120],
                                                     'spatial:dimensions': ['row', 'col']}, times=2)
        ds = ds.drop_vars(['x', 'y']).rename_dims({'y': 'row', 'x': 'col'})
    ds.to_zarr(path, mode='w', zarr_format=3, consolidated=True)
    return ds


def smooth_field(lon, lat):
    """A smooth global field for the sharded store."""
    return 15.0 + 10.0 * np.cos(np.radians(lat)) + 3.0 * np.sin(np.radians(2.0 * lon))


def make_sharded(path, shard=(1, 360, 720), chunk=(1, 60, 60)):
    """Zarr v3 with sharding: one shard per time step, 60x60 inner chunks, 0.5 degree global."""
    lat = np.arange(-89.75, 90.0, 0.5)
    lon = np.arange(-179.75, 180.0, 0.5)
    X, Y = np.meshgrid(lon, lat)
    ds = xr.Dataset(
        {'field': (('time', 'lat', 'lon'), smooth_field(X, Y)[None].astype('float32'),
                   {'long_name': 'Smooth field', 'units': '1'})},
        coords={'time': ('time', [SST_START]), 'lat': ('lat', lat, {'units': 'degrees_north'}),
                'lon': ('lon', lon, {'units': 'degrees_east'})},
        attrs={'title': 'Sharded v3 store'},
    )
    ds.to_zarr(path, mode='w', zarr_format=3, consolidated=True,
               encoding={'field': {'chunks': chunk, 'shards': shard}})
    return ds


def write_demo_data(directory: str | os.PathLike, overwrite: bool = False) -> list[str]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, maker in (('era5/pressure_levels.zarr', make_era5), ('sst_med.zarr', make_sst),
                        ('ensemble.zarr', make_ensemble)):
        target = directory / name
        if target.exists() and not overwrite:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        maker(str(target))
        written.append(str(target))
    return written


__all__ = ['write_demo_data', 'era5_temperature', 'era5_wind', 'era5_orography', 'sst', 'sst_is_land',
           'ensemble_precip', 'make_era5', 'make_sst', 'make_ensemble', 'smooth_field', 'make_sharded', 'bilinear_field', 'cubic_field',
           'make_polynomial', 'lonlat_field', 'make_utm', 'make_polar', 'rotated_lonlat',
           'make_curvilinear', 'mesh_nodes', 'linear_field',
           'make_mesh', 'make_utm_multiscales',
           'make_tms_multiscales', 'make_resolution_groups', 'make_undeclared_first_variable',
           'make_utm_multiscales_root_crs', 'make_resolution_groups_root_crs', 'make_tms_mercator', 'POLAR_CF',
           'make_polar_cf', 'make_transform_only', 'pd']
