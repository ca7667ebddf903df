"""An EDR query's parameters -> one frozen core `Query`, or a 4xx naming the parameter.

The shared parsers (`api/params.py`) read each value; this module knows what each EDR query type takes,
how values combine (a Z per vertex or `z`, a 6-number bbox or `z`, idw's radius inside the circle) and
builds the request once. The route and the pygeoapi provider both call `parse_query`.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import shapely

from ...core.coords import to_crs84_lon
from ...core.model import GridModel
from ...core.query import Query
from ...core.times import iso, parse_instant
from ...errors import InvalidParameter, TooLarge
from ..declarations import LIMITS
from ..params import (HALF_CIRCUMFERENCE_M, number, parse_bbox, parse_coords, parse_crs, parse_custom,
                      parse_datetime, parse_distance, parse_interpolation, parse_levels, parse_parameters,
                      parse_resolution)


def parse_query(query_type: str, params, model: GridModel) -> Query:
    """`params` is any mapping of raw strings (request.args, a form, a JSON body).

    Every value is worked out first, then the (frozen) Query is built once.
    """
    # OWSLib's EDR client sends `parameter_names`; same meaning, so accept it too
    parameters = parse_parameters(params.get('parameter-name', params.get('parameter_names')), model)
    time = parse_datetime(params.get('datetime'), model.calendar)
    z = parse_levels(params.get('z'))
    # a constraint on an axis the data lacks would be ignored without a word: refuse it
    if not time.is_all and model.t is None:
        raise InvalidParameter('datetime: this collection has no time axis; drop datetime', 'datetime')
    if not z.is_all and model.z is None:
        raise InvalidParameter('z: this collection has no vertical axis; drop z', 'z')
    custom = parse_custom(params, model)
    fields: dict = {}
    if query_type == 'cube':
        fields['bbox'], bbox_z = parse_bbox(params.get('bbox'))
        if not bbox_z.is_all:
            if model.z is None:
                raise InvalidParameter('bbox: 6 numbers give a vertical range, but this collection has no '
                                       'vertical axis; give west,south,east,north', 'bbox')
            if not z.is_all:
                raise InvalidParameter('z: given both in a 6-number bbox and as z; give one', 'z')
            z = bbox_z
    else:
        geometry = parse_coords(params.get('coords'), query_type)
        if query_type in ('position', 'radius'):
            fields['points'] = shapely.get_coordinates(geometry)
            fields['multi'] = geometry.geom_type == 'MultiPoint'
        elif query_type == 'area':
            fields['polygon'] = geometry
        else:
            fields.update(_parse_line(geometry, params, model))
    if query_type == 'radius':
        fields['within_m'] = parse_distance(params.get('within'), params.get('within-units'), 'within',
                                            'within-units')
    if query_type == 'corridor':
        fields['width_m'] = parse_distance(params.get('corridor-width'), params.get('width-units'),
                                           'corridor-width', 'width-units', 2 * HALF_CIRCUMFERENCE_M)
        check_corridor_work(fields['line'], fields['width_m'])
        if params.get('corridor-height') not in (None, ''):
            if model.z is None:
                raise InvalidParameter('corridor-height: this collection has no vertical axis', 'corridor-height')
            fields['height'] = number(str(params['corridor-height']), 'corridor-height')
            units = str(params.get('height-units') or '').strip()
            expected = str(model.z_attrs.get('units', ''))
            if units and units != expected:
                raise InvalidParameter(f'height-units: this collection\'s vertical axis is in {expected!r}',
                                       'height-units')
    if fields.get('points') is not None and (fields.get('multi') or query_type == 'trajectory'):
        fields.update(_drop_repeats(fields['points'], fields.get('vertex_t'), fields.get('vertex_z')))
    interpolation = parse_interpolation(params, query_type)
    if interpolation.time == 'linear' and model.t is None:
        raise InvalidParameter('time-interpolation: this collection has no time axis', 'time-interpolation')
    # radius with an interpolation method answers points (the centres), not cells
    answers_cells = query_type in ('area', 'cube', 'corridor') or (
        query_type == 'radius' and interpolation.spatial == 'nearest')
    native_crs = parse_crs(params.get('crs'), model, answers_cells)
    spatial = interpolation.spatial
    if query_type == 'radius' and spatial != 'nearest':
        if model.curvilinear is not None or model.mesh is not None:
            raise InvalidParameter(f'interpolation: {spatial} at a radius centre needs a regular grid; this '
                                   'collection is curvilinear or a mesh (ask without interpolation for the cells)',
                                   'interpolation')
        if spatial == 'idw':
            # the circle bounds the cells that weigh in: idw's own radius can narrow it, not widen it
            within_km = fields['within_m'] / 1000.0
            method_params = dict(interpolation.params)
            method_params['radius'] = min(method_params.get('radius', within_km), within_km)
            interpolation = dataclasses.replace(interpolation, params=method_params)
    supported = (model.curvilinear is None and model.mesh is None) or spatial == 'linear'
    if spatial != 'nearest' and not supported:
        raise InvalidParameter(f'interpolation: {interpolation.spatial} is not available on this '
                               f'{"mesh" if model.mesh is not None else "curvilinear grid"} (nearest and linear '
                               'are); refused rather than substituted', 'interpolation')
    return Query(kind=query_type, parameters=parameters, time=time, z=z, custom=custom,
                 interpolation=interpolation, native_crs=native_crs,
                 resolution=parse_resolution(params, query_type), **fields)


def _drop_repeats(points: np.ndarray, vertex_t: np.ndarray | None, vertex_z: np.ndarray | None) -> dict:
    """A point (or trajectory vertex, with its time and level) given twice -- 370 is 10 -- is answered once:
    CoverageJSON wants distinct tuples. The first occurrences keep the request's order.

    Returns the Query fields that change ({} when nothing repeats)."""
    columns = [to_crs84_lon(points[:, 0]), points[:, 1]]
    columns += [v for v in (vertex_t, vertex_z) if v is not None]
    _, first = np.unique(np.round(np.column_stack(columns), 9), axis=0, return_index=True)
    keep = np.sort(first)
    if keep.size == points.shape[0]:
        return {}
    return {'points': points[keep],
            'vertex_t': None if vertex_t is None else vertex_t[keep],
            'vertex_z': None if vertex_z is None else vertex_z[keep]}


def check_corridor_work(line, width_m: float):
    """Refuse (413) a corridor whose geodesic length x width is over the declared limit."""
    from pyproj import Geod
    limit = LIMITS['max-corridor-area-km2']
    length_m = Geod(ellps='WGS84').geometry_length(line)
    area_km2 = length_m * width_m / 1e6
    if area_km2 > limit.value:
        raise TooLarge(f'corridor-width: a {length_m / 1000:,.0f} km path {width_m / 1000:,.3g} km wide covers '
                       f'{area_km2:,.0f} km2, over this server\'s limit of {limit.value:,} km2 ({limit.description})',
                       'corridor-width')


def _epoch_to_calendar(seconds: np.ndarray, calendar: str | None) -> np.ndarray:
    if calendar is None:
        return seconds
    return np.array([parse_instant(iso([s])[0], calendar) for s in seconds])


def _parse_line(geometry, params, model: GridModel) -> dict:
    """The Query fields a LINESTRING[Z][M] gives: line, points, and vertex_z / vertex_t from Z / M."""
    fields = {'line': geometry}
    coords = shapely.get_coordinates(geometry, include_z=geometry.has_z, include_m=geometry.has_m)
    fields['points'] = coords[:, :2]
    column = 2
    if geometry.has_z:
        if params.get('z'):
            raise InvalidParameter('z: the coords already give a Z per vertex; drop z or the Z', 'z')
        if model.z is None:
            raise InvalidParameter('coords: Z given but this collection has no vertical axis', 'coords')
        fields['vertex_z'] = coords[:, column]
        column += 1
    if getattr(geometry, 'has_m', False):
        if params.get('datetime'):
            raise InvalidParameter('datetime: the coords already give a time (M) per vertex; drop datetime or '
                                   'the M', 'datetime')
        if model.t is None:
            raise InvalidParameter('coords: M given but this collection has no time axis', 'coords')
        fields['vertex_t'] = _epoch_to_calendar(coords[:, column], model.calendar)
    return fields
