"""Analytic input files for the converter tests: every value is a formula of (lon, lat, hours)."""
from __future__ import annotations

import numpy as np
import xarray as xr
from pyproj import CRS, Transformer

START = np.datetime64('2024-03-01T00:00:00', 'ns')
UTM = CRS.from_epsg(32632)
TO_LONLAT = Transformer.from_crs(UTM, 'OGC:CRS84', always_xy=True)


def formula(lon, lat, hours=0.0):
    """Periodic in longitude (0..360 and -180..180 agree), asymmetric in latitude, linear in time."""
    lon, lat = np.asarray(lon, 'float64'), np.asarray(lat, 'float64')
    return 280.0 + 10.0 * np.cos(np.radians(lat)) + 5.0 * np.sin(np.radians(lon)) + 0.1 * lat + 0.5 * hours


def land(lon, lat):
    """A categorical field with flag_values 0 (sea), 1 (land), 2 (ice)."""
    lon, lat = np.asarray(lon, 'float64'), np.asarray(lat, 'float64')
    return np.where(np.abs(lat) > 50, 2, np.where(np.sin(np.radians(lon * 3)) > 0.3, 1, 0)).astype('int8')


def nan_box(lon, lat):
    """Where the continuous field is missing: a box, to check masks and the mean of valid cells."""
    return (np.asarray(lon) > 100) & (np.asarray(lon) < 112) & (np.asarray(lat) > 10) & (np.asarray(lat) < 20)


def lonlat_dataset(lat, lon, hours, coord_dtype='float64', calendar=None, flags=True, packed=False,
                   lon_units='degrees_east') -> xr.Dataset:
    lat, lon, hours = np.asarray(lat), np.asarray(lon), np.asarray(hours, 'float64')
    H, Y, X = np.meshgrid(hours, lat, lon, indexing='ij')
    values = formula(X, Y, H).astype('float32')
    values[nan_box(X, Y)] = np.nan
    data = {'t2m': (('time', 'lat', 'lon'), values, {'standard_name': 'air_temperature', 'units': 'K'})}
    if flags:
        data['landmask'] = (('lat', 'lon'), land(X[0], Y[0]),
                            {'flag_values': np.array([0, 1, 2], 'int8'), 'flag_meanings': 'sea land ice'})
    if packed:
        data['packed'] = (('time', 'lat', 'lon'), values.copy(), {'units': 'K', 'long_name': 'packed copy'})
    if calendar:
        import cftime
        base = cftime.datetime(2024, 3, 1, calendar=calendar)
        import datetime as dt
        times = np.array([base + dt.timedelta(hours=float(h)) for h in hours])
    else:
        times = START + (hours * 3600e9).astype('timedelta64[ns]')
    ds = xr.Dataset(data, coords={
        'time': ('time', times, {'standard_name': 'time'}),
        'lat': ('lat', lat.astype(coord_dtype), {'units': 'degrees_north'}),
        'lon': ('lon', lon.astype(coord_dtype), {'units': lon_units})},
        attrs={'title': 'analytic test field', 'institution': 'kazarr tests', 'history': 'made by fields.py'})
    return ds


def write_netcdf(ds: xr.Dataset, path, packed=False, fmt='NETCDF4', engine=None, calendar=None):
    encoding = {'time': {'units': 'hours since 2024-03-01 00:00:00', 'dtype': 'float64'}}
    if calendar:
        encoding['time']['calendar'] = calendar
    if 't2m' in ds:
        encoding['t2m'] = {'_FillValue': np.float32(-9999.0)}
    if packed and 'packed' in ds:
        encoding['packed'] = {'dtype': 'int16', 'scale_factor': 0.01, 'add_offset': 280.0, '_FillValue': -32768}
        ds['packed'].attrs.update(valid_min=-9000, valid_max=9000)      # packed units: 190 K .. 370 K
    if 'landmask' in ds:
        encoding['landmask'] = {'_FillValue': np.int8(-1)}
    ds.to_netcdf(path, format=fmt, engine=engine, encoding=encoding)
    return path


def utm_dataset() -> xr.Dataset:
    """UTM 32N, 2 km cells, y descending, CF grid_mapping with crs_wkt, no time."""
    x = 300000.0 + 2000.0 * (np.arange(70) + 0.5)
    y = 5200000.0 - 2000.0 * (np.arange(50) + 0.5)
    X, Y = np.meshgrid(x, y)
    lon, lat = TO_LONLAT.transform(X, Y)
    mapping = UTM.to_cf()
    mapping['crs_wkt'] = UTM.to_wkt()
    return xr.Dataset(
        {'b04': (('y', 'x'), formula(lon, lat).astype('float32'), {'long_name': 'band', 'units': '1',
                                                                    'grid_mapping': 'crs'}),
         'crs': ((), np.int32(0), mapping)},
        coords={'x': ('x', x, {'standard_name': 'projection_x_coordinate', 'units': 'm'}),
                'y': ('y', y, {'standard_name': 'projection_y_coordinate', 'units': 'm'})},
        attrs={'title': 'UTM analytic tile'})


def write_grib(path, hours=(0, 6, 12), start='20240301', lat0=60.0, nlat=21, nlon=31):
    """GRIB2 from ecCodes' own sample: temperature on a 1 degree grid (lat descending), one message per step."""
    import eccodes
    lat = lat0 - np.arange(nlat)
    lon = np.arange(nlon, dtype='float64')
    X, Y = np.meshgrid(lon, lat)
    with open(path, 'wb') as fh:
        for step in hours:
            handle = eccodes.codes_grib_new_from_samples('regular_ll_sfc_grib2')
            try:
                for key, value in dict(Ni=nlon, Nj=nlat, latitudeOfFirstGridPointInDegrees=float(lat[0]),
                                       longitudeOfFirstGridPointInDegrees=0.0,
                                       latitudeOfLastGridPointInDegrees=float(lat[-1]),
                                       longitudeOfLastGridPointInDegrees=float(lon[-1]),
                                       iDirectionIncrementInDegrees=1.0, jDirectionIncrementInDegrees=1.0,
                                       dataDate=int(start), dataTime=0, stepUnits=1, forecastTime=int(step),
                                       bitsPerValue=24).items():
                    eccodes.codes_set(handle, key, value)
                eccodes.codes_set_values(handle, formula(X, Y, step).ravel())
                eccodes.codes_write(handle, fh)
            finally:
                eccodes.codes_release(handle)
    return path
