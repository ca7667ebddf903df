"""Output encoders, one module per format.

`FORMATS` maps each `f` name to (media type, encoder). An encoder takes the
selected blocks and returns bytes or an iterator of bytes (streamed).
"""
from . import to_covjson, to_csv, to_geojson, to_netcdf


def _covjson(blocks, model, multi=False) -> bytes:
    return to_covjson.encode(to_covjson.build(blocks, model, multi))


ENCODERS = {
    'CoverageJSON': (to_covjson.MEDIA_TYPE, _covjson),
    'GeoJSON': (to_geojson.MEDIA_TYPE, to_geojson.encode),
    'CSV': (to_csv.MEDIA_TYPE, to_csv.encode),
    'NetCDF': (to_netcdf.MEDIA_TYPE, to_netcdf.encode),
}
FORMATS = {name: media for name, (media, _encoder) in ENCODERS.items()}
DEFAULT_FORMAT = 'CoverageJSON'
# `f` values and Accept media types understood for each format
ALIASES = {
    'coveragejson': 'CoverageJSON', 'covjson': 'CoverageJSON', 'json': 'CoverageJSON',
    'application/vnd.cov+json': 'CoverageJSON', 'application/prs.coverage+json': 'CoverageJSON',
    'application/json': 'CoverageJSON',
    'geojson': 'GeoJSON', 'application/geo+json': 'GeoJSON',
    'csv': 'CSV', 'text/csv': 'CSV',
    'netcdf': 'NetCDF', 'nc': 'NetCDF', 'application/x-netcdf': 'NetCDF', 'application/netcdf': 'NetCDF',
}
