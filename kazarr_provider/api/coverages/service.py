"""One coverage request on a dataset: the exact output grid first, then the level, the read and the encoding.

The output grid's edges are the requested box (the data's extent where none is asked) and its cell counts
the requested size (the native cells across the box otherwise). Each output cell holds the nearest source
cell (`Content-Interpolation: nearest`). Time, levels and other dimensions not sliced: a GeoTIFF answers
one documented default slice (the latest time step, the first level, the first value) and says which in
its headers; NetCDF and CoverageJSON keep them all.
"""
from __future__ import annotations

import math

import numpy as np
from pyproj import Transformer

from ...core.compute.regrid import OutputGrid, same_crs, sample
from ...core.levels import coarsest_within
from ...core.query import AxisRequest, Query
from ...core.times import iso
from ...data.catalogue import OpenDataset
from ...data.storage import reading
from ...errors import InvalidParameter, TooLarge
from ...formats import to_covjson, to_geotiff, to_netcdf
from .documents import lonlat_grid
from .params import AxisSubset, CoverageRequest

FORMATS = {'GeoTIFF': to_geotiff.MEDIA_TYPE, 'NetCDF': to_netcdf.MEDIA_TYPE, 'CoverageJSON': to_covjson.MEDIA_TYPE}
ALIASES = {'geotiff': 'GeoTIFF', 'tif': 'GeoTIFF', 'tiff': 'GeoTIFF', 'image/tiff': 'GeoTIFF',
           'image/tiff;application=geotiff': 'GeoTIFF', 'application/x-geotiff': 'GeoTIFF',
           'netcdf': 'NetCDF', 'nc': 'NetCDF', 'application/x-netcdf': 'NetCDF', 'application/netcdf': 'NetCDF',
           'coveragejson': 'CoverageJSON', 'covjson': 'CoverageJSON', 'json': 'CoverageJSON',
           'application/vnd.cov+json': 'CoverageJSON', 'application/prs.coverage+json': 'CoverageJSON'}
DEFAULT_FORMAT = 'GeoTIFF'
SUFFIX = {'GeoTIFF': 'tif', 'NetCDF': 'nc', 'CoverageJSON': 'covjson'}


def output_grid(opened: OpenDataset, request: CoverageRequest, limit: int) -> tuple[OutputGrid, str | None]:
    """The exact grid of the answer, and a notice when it was made coarser to fit `limit` (lenient)."""
    target = request.crs
    west, south, east, north = _bounds(opened, request)
    width, height = _size(opened, request, (west, south, east, north))
    fields = max(1, len(request.fields))
    notice = None
    if width * height * fields > limit:
        if request.strict or (request.scaling is not None and request.scaling.mode == 'size'):
            raise TooLarge(f'the coverage would hold {width:,} x {height:,} cells x {fields} field(s), over this '
                           f'server\'s limit of {limit:,} values; ask a smaller box, fewer properties or a smaller '
                           'size', None)
        shrink = math.sqrt(limit / (width * height * fields))
        width, height = max(1, int(width * shrink)), max(1, int(height * shrink))
        notice = (f'downsampled to {width} x {height} cells to stay under the limit of {limit:,} values '
                  '(Prefer: handling=strict refuses instead)')
    return OutputGrid(target.crs, west, south, east, north, width, height), notice


def _bounds(opened: OpenDataset, request: CoverageRequest) -> tuple[float, float, float, float]:
    """The box in the output CRS: the requested one, open ends and absent axes taken from the data."""
    model = opened.model
    target = request.crs
    if target.native and not target.geographic:
        full = (model.x_axis.edges[0], model.y_axis.edges[0], model.x_axis.edges[-1], model.y_axis.edges[-1])
    elif target.native or (target.geographic and target.name in ('CRS84', 'EPSG:4326')):
        full = tuple(lonlat_grid(model)[0])
    else:
        lon_lat = lonlat_grid(model)[0]
        full = Transformer.from_crs('OGC:CRS84', target.crs, always_xy=True).transform_bounds(*lon_lat, densify_pts=50)
    west, south, east, north = (float(v) for v in full)
    x, y = request.x, request.y
    for subset in (x, y):
        if subset is not None and subset.interval is None:
            raise InvalidParameter(f'subset: slicing {subset.name} is not offered on coverages (a coverage keeps its '
                                   f'two spatial axes); trim it instead, e.g. {subset.name}(a:b)', 'subset')
    if x is None and y is None:
        return west, south, east, north
    box = [(x.interval if x else (None, None)), (y.interval if y else (None, None))]
    same = request.subset_crs is not None and request.subset_crs.crs.equals(target.crs, ignore_axis_order=True)
    if same or (request.subset_crs and request.subset_crs.geographic and target.geographic):
        lo_x = west if box[0][0] is None else box[0][0]
        hi_x = east if box[0][1] is None else box[0][1]
        if x is not None and x.crosses_antimeridian:
            hi_x += 360.0
        lo_y = south if box[1][0] is None else box[1][0]
        hi_y = north if box[1][1] is None else box[1][1]
        return float(lo_x), float(lo_y), float(hi_x), float(hi_y)
    to_target = Transformer.from_crs(request.subset_crs.crs, target.crs, always_xy=True)
    from_target = Transformer.from_crs(target.crs, request.subset_crs.crs, always_xy=True)
    sub = from_target.transform_bounds(west, south, east, north, densify_pts=50)
    lo_x, lo_y, hi_x, hi_y = [sub[i] if v is None else v for i, v in ((0, box[0][0]), (1, box[1][0]),
                                                                      (2, box[0][1]), (3, box[1][1]))]
    return tuple(float(v) for v in to_target.transform_bounds(lo_x, lo_y, hi_x, hi_y, densify_pts=50))


def _size(opened: OpenDataset, request: CoverageRequest, box) -> tuple[int, int]:
    """Cell counts: as asked (sizes, resolution, factor), else about the native cells across the box."""
    west, south, east, north = box
    native_w, native_h = _native_size(opened, request, box)
    scaling = request.scaling
    if scaling is None:
        return native_w, native_h
    if scaling.mode == 'size':
        return int(scaling.x or native_w), int(scaling.y or native_h)
    if scaling.mode == 'resolution':
        return (max(1, round((east - west) / scaling.x)) if scaling.x else native_w,
                max(1, round((north - south) / scaling.y)) if scaling.y else native_h)
    return (max(1, round(native_w / scaling.x)) if scaling.x else native_w,
            max(1, round(native_h / scaling.y)) if scaling.y else native_h)


def _native_size(opened: OpenDataset, request: CoverageRequest, box) -> tuple[int, int]:
    west, south, east, north = box
    model = opened.model
    target = request.crs
    if target.native and (model.projected or model.regular_lonlat):     # the grid's own cells
        dx, dy = np.abs(np.diff(model.x_axis.edges)).mean(), np.abs(np.diff(model.y_axis.edges)).mean()
    else:
        (w0, s0, e0, n0), width, height = _default_grid(opened, request)
        dx, dy = (e0 - w0) / width, (n0 - s0) / height
    return max(1, round((east - west) / dx)), max(1, round((north - south) / dy))


def _default_grid(opened: OpenDataset, request: CoverageRequest):
    bounds, width, height = lonlat_grid(opened.model)
    if request.crs.geographic:
        return bounds, width, height
    box = Transformer.from_crs('OGC:CRS84', request.crs.crs, always_xy=True).transform_bounds(*bounds, densify_pts=50)
    return box, width, height


def slices(opened: OpenDataset, request: CoverageRequest, two_d: bool) -> tuple[Query, dict]:
    """The core request for the non-spatial axes, and the headers saying which default slices were taken."""
    model = opened.model
    headers = {}
    time = _axis_request(request.time)
    if model.t is not None and two_d and not (request.time and request.time.kind == 'slice'):
        time = AxisRequest(values=np.array([_latest(model, time)]), text='latest')
    if model.t is not None and time.values is not None and time.values.size == 1:
        index = int(model.t_axis.nearest(time.values)[0])         # the step that answers (the nearest)
        if index >= 0:
            headers['Content-Datetime'] = iso(model.t_seconds[index:index + 1], model.calendar)[0]
    vertical = _axis_request(request.vertical)
    if model.z is not None and two_d and (request.vertical is None or request.vertical.kind != 'slice'):
        first = model.z_values[0] if request.vertical is None else vertical_first(model, vertical)
        vertical = AxisRequest(values=np.array([float(first)]), text=f'{first:g}')
    if model.z is not None and vertical.values is not None and vertical.values.size == 1:
        index = int(model.z_axis.nearest(vertical.values)[0])     # the level that answers (the nearest)
        if index >= 0:
            headers['Kazarr-Level'] = f'{model.z}={model.z_values[index]:g}'
    custom = {}
    for dim, axis in model.custom.items():
        subset = request.custom.get(dim)
        if subset is None and two_d:
            custom[dim] = AxisRequest(labels=[axis.values[0]]) if axis.numeric is None else \
                AxisRequest(values=np.array([float(axis.values[0])]))
            headers.setdefault('Kazarr-Dimensions', '')
            headers['Kazarr-Dimensions'] += f'{dim}={axis.values[0]};'
        elif subset is not None:
            if two_d and subset.kind != 'slice':
                raise InvalidParameter(f'subset: a GeoTIFF holds one {dim}; slice it ({dim}(value)) or ask '
                                       'f=NetCDF for several', 'subset')
            custom[dim] = _axis_request(subset, axis.numeric is None)
    query = Query('cube', time=time, z=vertical, custom=custom, parameters=tuple(request.fields) or None)
    return query, headers


def _axis_request(subset: AxisSubset | None, labels: bool = False) -> AxisRequest:
    if subset is None:
        return AxisRequest()
    if labels:
        return AxisRequest(labels=list(subset.values), text=subset.text) if subset.values else \
            AxisRequest(text=subset.text)
    if subset.interval is not None:
        return AxisRequest(interval=subset.interval, text=subset.text)
    return AxisRequest(values=np.array(subset.values, dtype='float64'), text=subset.text)


def _latest(model, request: AxisRequest) -> float:
    """The latest step the request allows (all steps, an interval, or several instants)."""
    seconds = np.sort(model.t_seconds)
    if request.values is not None:
        return float(np.max(request.values))
    lo, hi = request.interval if request.interval is not None else (None, None)
    inside = seconds[(seconds >= (-np.inf if lo is None else lo)) & (seconds <= (np.inf if hi is None else hi))]
    # an interval between two steps holds none: its end, answered by the nearest step like any instant
    return float(inside[-1]) if inside.size else float(hi if hi is not None else lo)


def vertical_first(model, request: AxisRequest) -> float:
    if request.values is not None:
        return float(request.values[0])
    lo, hi = request.interval
    inside = [v for v in model.z_values if (lo is None or v >= lo) and (hi is None or v <= hi)]
    return float(inside[0]) if inside else float(lo if lo is not None else hi)


def answer(opened: OpenDataset, request: CoverageRequest, fmt: str, limit: int) -> tuple[str, bytes, dict]:
    """(media type, body, headers) of the coverage in `fmt`."""
    if fmt != 'GeoTIFF' and not (request.crs.native or request.crs.name == 'CRS84'):
        # their encoders reference the storage CRS or CRS84 only (grid_mapping, CoverageJSON referencing)
        raise InvalidParameter(f'crs: {fmt} coverages are given in the storage CRS or CRS84; {request.crs.name} '
                               'is offered as GeoTIFF', 'crs')
    grid, notice = output_grid(opened, request, limit)
    query, headers = slices(opened, request, two_d=(fmt == 'GeoTIFF'))
    level = choose_level(opened, grid, request)
    ds, model = (level.ds, level.model) if level else (opened.ds, opened.model)
    with reading(opened.location):
        blocks = sample(ds, model, grid, query, limit)
    if fmt == 'GeoTIFF':
        try:
            body = to_geotiff.encode(blocks, model, crs=grid.crs, transform=grid.transform,
                                     fields=list(request.fields))
        except ValueError as error:          # what one GeoTIFF cannot hold, said rather than a 500
            raise InvalidParameter(f'f: this answer does not fit one GeoTIFF ({error}); ask f=NetCDF', 'f') \
                from None
    elif fmt == 'NetCDF':
        body = to_netcdf.encode(blocks, model)
    else:
        body = to_covjson.encode(to_covjson.build(blocks, model))
    headers.update({
        'Content-Crs': f'<{request.crs.uri}>' if request.crs.uri else request.crs.name,
        'Content-Bbox': ','.join(f'{v:.10g}' for v in (grid.west, grid.south, grid.east, grid.north)),
        'Content-Interpolation': 'http://www.opengis.net/def/interpolation/OGC/1/nearest-neighbor',
        'Content-Disposition': f'inline; filename="{opened.location.name.rsplit("/", 1)[-1].removesuffix(".zarr")}'
                               f'.{SUFFIX[fmt]}"',
    })
    if level is not None:
        headers['Kazarr-Level'] = ', '.join(filter(None, [headers.get('Kazarr-Level'), f'level={level.name}']))
    if notice:
        headers['Kazarr-Notice'] = notice
    return FORMATS[fmt], body if isinstance(body, bytes) else b''.join(body), headers


def choose_level(opened: OpenDataset, grid: OutputGrid, request: CoverageRequest):
    """The coarsest multiscale level whose cells are not coarser than the output cells, in any output CRS.

    The output cells are measured in the storage CRS (where the levels' cells are): the smallest output
    cell across the grid decides, so no part of the answer is drawn from a level coarser than itself.
    """
    if not opened.levels or opened.model.curvilinear is not None or opened.model.mesh is not None:
        return None
    return coarsest_within(opened.levels, *storage_cell(opened.model, grid))


def storage_cell(model, grid: OutputGrid) -> tuple[float, float]:
    """The smallest width and height of an output cell, in storage CRS units (9 x 9 cells sampled)."""
    if same_crs(model, grid.crs):
        return grid.dx, grid.dy
    x = grid.west + grid.dx * (np.linspace(0, grid.width - 1, 9) + 0.5)
    y = grid.north - grid.dy * (np.linspace(0, grid.height - 1, 9) + 0.5)
    x, y = (a.ravel() for a in np.meshgrid(x, y))
    to_storage = Transformer.from_crs(grid.crs, model.crs, always_xy=True)

    def length(x0, y0, x1, y1):
        ax, ay = to_storage.transform(x0, y0)
        bx, by = to_storage.transform(x1, y1)
        size = np.hypot(np.asarray(bx) - ax, np.asarray(by) - ay)
        size = size[np.isfinite(size)]
        return float(size.min()) if size.size else np.inf

    return (length(x - grid.dx / 2, y, x + grid.dx / 2, y), length(x, y - grid.dy / 2, x, y + grid.dy / 2))
