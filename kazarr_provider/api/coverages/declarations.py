"""The OGC API – Coverages vocabulary: axis names and their aliases, CRS spellings, scaling styles.

The parser (`axes.py`, `scaling.py`) takes its axis names, CRS spellings and scaling styles from here.
The Coverages request parameters themselves are declared with every other API's in `api/declarations.py`
(`PARAMS['coverages']`), from which the OpenAPI document is generated.

Sources: the draft OGC API – Coverages 1.0 (subsetting, scaling and CRS requirement classes, the spatial
and temporal alias recommendations), its legacy `scale-*` parameters, and what GDAL's OGCAPI driver and
OWSLib 0.35 send.
"""
from __future__ import annotations

# ---- axis names -------------------------------------------------------------------------------------
# prescribed name -> aliases. The draft recommends these aliases (lowercase/capitalised variants);
# a dimension's own name always wins over an alias of another axis.
GEOGRAPHIC_AXES = {       # x, y of a geographic subset / output CRS (CRS84, EPSG:4326)
    'Lon': ('lon', 'Long', 'long', 'Longitude', 'longitude'),
    'Lat': ('lat', 'Latitude', 'latitude'),
}
PROJECTED_AXES = {        # x, y of a projected subset / output CRS (the storage CRS, EPSG:3857)
    'E': ('e', 'x', 'X', 'Easting', 'easting'),
    'N': ('n', 'y', 'Y', 'Northing', 'northing'),
}
AXIS_ROLES = {'Lon': 'x', 'Lat': 'y', 'E': 'x', 'N': 'y'}
TIME_AXIS = 'time'
TIME_ALIASES = ('t', 'T', 'Time', 'TIME')
# The vertical axis (pressure, depth, model level) is named by its own dimension name, like the
# extent key of the collection document; `z`/`Z` are aliases of it (EDR's parameter name). The draft's
# `h` means height above the ellipsoid (CRS84h), which a pressure or depth axis is not: not an alias.
VERTICAL_ALIASES = ('z', 'Z')

# ---- CRSs -------------------------------------------------------------------------------------------
CRS84_URI = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'
EPSG_URI = 'http://www.opengis.net/def/crs/EPSG/0/{code}'
# spellings of CRS84 taken without asking pyproj (compared lower-case, safe-CURIE brackets removed)
CRS84_NAMES = ('crs84', 'ogc:crs84', 'crs:84', CRS84_URI.lower(), CRS84_URI.lower().replace('http:', 'https:'),
               'urn:ogc:def:crs:ogc:1.3:crs84', 'urn:ogc:def:crs:ogc::crs84')
# CRSs offered besides CRS84 and the collection's storage CRS: for `crs` output, and for `subset-crs`
# and `bbox-crs` too (the draft: they take whatever `crs` takes). EPSG:4326 is latitude-first.
EXTRA_CRS = ('EPSG:4326', 'EPSG:3857')

# ---- scaling ----------------------------------------------------------------------------------------
# style -> its parameters; one style per request (two -> 400 naming the second one given).
SCALING_STYLES = {
    'resolution': ('resolution',),         # cell size per axis in output CRS units; empty = native
    'size': ('width', 'height'),            # exact cell counts along x / y
    'scale-size': ('scale-size',),          # legacy: cells per axis
    'scaleSize': ('scaleSize',),            # GDAL's OGCAPI driver (WCS spelling)
    'scale-factor': ('scale-factor',),      # legacy: one factor for every spatial axis (2 = half the cells)
    'scaleFactor': ('scaleFactor',),        # WCS spelling
    'scale-axes': ('scale-axes',),          # legacy: factor per axis
    'scaleAxes': ('scaleAxes',),            # WCS spelling
}
SCALING_PARAMETERS = tuple(p for params in SCALING_STYLES.values() for p in params)
