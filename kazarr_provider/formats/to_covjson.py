"""Blocks -> CoverageJSON (OGC 21-069r2), encoded in bulk with orjson.

Every NdArray's `axisNames` follow the order of the numpy array it is
serialised from (row-major, last axis fastest); NaN becomes `null`.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np
import orjson

from ..core.crs import crs_uri
from ..core.model import GridModel
from ..core.blocks import Block
from ..core.times import iso

MEDIA_TYPE = 'application/vnd.cov+json'
CRS84 = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'


def parameter(model: GridModel, name: str) -> dict:
    attrs = model.variables[name].attrs
    label = attrs.get('long_name') or attrs.get('standard_name') or name
    observed = {'label': {'en': str(label)}}
    if attrs.get('standard_name'):
        observed['id'] = f"https://vocab.nerc.ac.uk/standard_name/{attrs['standard_name']}/"
    out = {'type': 'Parameter', 'description': {'en': str(attrs.get('description', label))},
           'observedProperty': observed}
    units = attrs.get('units')
    if units:
        out['unit'] = {'label': {'en': str(units)}, 'symbol': str(units)}
    return out


def horizontal_system(model: GridModel, native: bool) -> dict:
    if not native:
        return {'type': 'GeographicCRS', 'id': CRS84}
    system = {'type': 'ProjectedCRS' if model.projected else 'GeographicCRS'}
    uri = crs_uri(model.crs)
    if uri:
        system['id'] = uri
    system['wkt'] = model.crs.to_wkt()
    return system


def _referencing(has_t: bool, has_z: bool, model: GridModel, native: bool = False) -> list[dict]:
    refs = [{'coordinates': ['x', 'y'], 'system': horizontal_system(model, native)}]
    if has_z:
        refs.append({'coordinates': ['z'], 'system': {'type': 'VerticalCRS', 'cs': {'csAxes': [{
            'name': {'en': str(model.z_attrs.get('long_name', model.z))},
            'direction': 'down' if str(model.z_attrs.get('positive', 'up')).lower() == 'down' else 'up',
            'unit': {'symbol': str(model.z_attrs.get('units', ''))}}]}}})
    if has_t:
        calendar = 'Gregorian' if model.calendar is None else calendar_uri(model.calendar)
        refs.append({'coordinates': ['t'], 'system': {'type': 'TemporalRS', 'calendar': calendar}})
    return refs


def _ndarray(array: np.ndarray, names: list[str]) -> dict:
    data_type = 'integer' if array.dtype.kind in 'iu' else 'float'
    if array.ndim == 0:
        return {'type': 'NdArray', 'dataType': data_type, 'values': array.reshape(1)}
    return {'type': 'NdArray', 'dataType': data_type, 'axisNames': names,
            'shape': list(array.shape), 'values': array.ravel()}


def calendar_uri(calendar: str | None) -> str:
    """Gregorian: the OGC URI; a CF calendar: the CF convention's section naming it."""
    if calendar is None:
        return 'http://www.opengis.net/def/uom/ISO-8601/0/Gregorian'
    return f'https://cfconventions.org/Data/cf-conventions/cf-conventions-1.11/cf-conventions.html#calendar:{calendar}'


def _axis(values, calendar=None, as_time=False) -> dict:
    if as_time:
        # many coverages (one per radius centre) share one time axis: formatted once, not once each
        return {'values': list(_iso_once(np.asarray(values, dtype='float64').tobytes(), calendar))}
    return {'values': np.asarray(values, dtype='float64')}


@functools.lru_cache(maxsize=64)
def _iso_once(seconds: bytes, calendar: str | None) -> tuple[str, ...]:
    return tuple(iso(np.frombuffer(seconds, dtype='float64'), calendar))


def _point_coverages(block: Block, model: GridModel, multi: bool, custom: dict) -> list[dict]:
    """Point, PointSeries, VerticalProfile, MultiPoint(Series) from a points block (one custom slice)."""
    t = block.axes.get('t')
    z = block.axes.get('z')
    nt = 0 if t is None else t.size
    nz = 0 if z is None else z.size
    coverages = []
    # arrays here are (t?, z?, point)
    if not multi:
        for p in range(block.point_xy.shape[0]):
            x, y = block.point_xy[p]
            sub = {name: a[..., p] for name, a in block.values.items()}
            if nt > 1 and nz > 1:
                # CoverageJSON has no t-and-z point domain: one vertical profile per time step
                for i in range(nt):
                    coverages.append(_cov('VerticalProfile', {'x': [x], 'y': [y], 't': t[i:i + 1], 'z': z},
                                          {n: (a[i], ['z']) for n, a in sub.items()}, model, custom, block.native_xy))
            elif nz > 1:
                axes = {'x': [x], 'y': [y], 'z': z}
                if nt:
                    axes['t'] = t
                coverages.append(_cov('VerticalProfile', axes, {n: (a.reshape(-1), ['z']) for n, a in sub.items()},
                                      model, custom, block.native_xy))
            elif nt > 1:
                axes = {'x': [x], 'y': [y], 't': t}
                if nz:
                    axes['z'] = z
                coverages.append(_cov('PointSeries', axes, {n: (a.reshape(-1), ['t']) for n, a in sub.items()},
                                      model, custom, block.native_xy))
            else:
                axes = {'x': [x], 'y': [y]}
                if nt:
                    axes['t'] = t
                if nz:
                    axes['z'] = z
                # shape [1, 1] rather than a 0-d array: QGIS reads NdArrays only with a shape
                coverages.append(_cov('Point', axes, {n: (a.reshape(1, 1), ['y', 'x']) for n, a in sub.items()},
                                      model, custom, block.native_xy))
        return coverages
    # multi-point: z (one level per coverage) goes into the composite tuples
    levels = range(nz) if nz else [None]
    for k in levels:
        if k is None:
            tuples = block.point_xy
            coordinates = ['x', 'y']
            sub = {n: a for n, a in block.values.items()}
        else:
            tuples = np.column_stack([block.point_xy, np.full(block.point_xy.shape[0], z[k])])
            coordinates = ['x', 'y', 'z']
            sub = {n: a[..., k, :] for n, a in block.values.items()}
        composite = {'dataType': 'tuple', 'coordinates': coordinates, 'values': tuples}
        if nt > 1:
            coverage = _cov('MultiPointSeries', {'t': t, 'composite': composite},
                            {n: (a, ['t', 'composite']) for n, a in sub.items()}, model, custom, block.native_xy)
        else:
            axes = {'composite': composite}
            if nt:
                axes['t'] = t
            coverage = _cov('MultiPoint', axes, {n: (a.reshape(-1), ['composite']) for n, a in sub.items()},
                            model, custom, block.native_xy)
        if block.answering_cells is not None:
            # the points are where they were asked; which cell's value each one got (null: outside the data)
            coverage['kazarr:cells'] = block.answering_cells
        coverages.append(coverage)
    return coverages


def _trajectory_coverages(block: Block, model: GridModel, custom: dict) -> list[dict]:
    """Trajectory domains: composite (t, x, y[, z]) tuples, one coverage per time step/level not given per vertex.

    CoverageJSON's Trajectory needs a time in every tuple: a path through data without a time axis is
    answered as a MultiPoint whose composite keeps the vertices in path order.
    """
    n = block.point_xy.shape[0]
    x, y = block.point_xy[:, 0].tolist(), block.point_xy[:, 1].tolist()
    timeless = block.point_t is None and 't' not in block.axes
    steps = [None] if block.point_t is not None or timeless else range(block.axes['t'].size)
    levels = [None] if block.point_z is not None or 'z' not in block.axes else range(block.axes['z'].size)
    coverages = []
    for i in steps:
        times = None
        if not timeless:
            times = iso(block.point_t if i is None else np.full(n, block.axes['t'][i]), model.calendar)
        for k in levels:
            columns, coordinates = ([], []) if timeless else ([times], ['t'])
            columns += [x, y]
            coordinates += ['x', 'y']
            if block.point_z is not None:
                columns.append(block.point_z.tolist())
                coordinates.append('z')
            elif k is not None and timeless:
                columns.append([float(block.axes['z'][k])] * n)
                coordinates.append('z')
            rows = [tuple(row) for row in zip(*columns)]
            # vertices that differ only in a Z or M this parameter group has no axis for meet in one tuple;
            # CoverageJSON tuples are distinct, and their values are the same: keep the first
            first = list({row: n for n, row in reversed(list(enumerate(rows)))}.values())[::-1]
            keep = np.array(sorted(first))
            axes = {'composite': {'dataType': 'tuple', 'coordinates': coordinates,
                                  'values': [list(rows[n]) for n in keep]}}
            if k is not None and not timeless:
                axes['z'] = [block.axes['z'][k]]
            ranges = {}
            for name, array in block.values.items():
                sub = array
                if 'z' in block.axes and block.point_z is None:
                    sub = sub[..., k, :]
                if 't' in block.axes and block.point_t is None:
                    sub = sub[..., i, :] if sub.ndim > 1 else sub
                ranges[name] = (sub.reshape(-1)[keep], ['composite'])
            coverages.append(_cov('MultiPoint' if timeless else 'Trajectory', axes, ranges, model, custom,
                                  block.native_xy))
    return coverages


def _grid_coverage(block: Block, model: GridModel, custom: dict, values: dict[str, np.ndarray]) -> dict:
    axes = {'x': block.axes['x'], 'y': block.axes['y']}
    names = []
    for key in ('t', 'z'):
        if key in block.axes:
            axes[key] = block.axes[key]
            names.append(key)
    names += ['y', 'x']
    coverage = _cov('Grid', axes, {n: (a, names) for n, a in values.items()}, model, custom, block.native_xy)
    if block.centre is not None:
        coverage['kazarr:centre'] = list(block.centre)     # several radius centres: which circle this is
    return coverage


def _cov(domain_type: str, axes: dict, ranges: dict, model: GridModel, custom: dict, native: bool = False) -> dict:
    domain_axes = {}
    for key, values in axes.items():
        if key == 'composite':
            domain_axes[key] = values
        else:
            domain_axes[key] = _axis(values, model.calendar, as_time=(key == 't'))
    cov = {
        'type': 'Coverage',
        'domain': {'type': 'Domain', 'domainType': domain_type, 'axes': domain_axes,
                   'referencing': _referencing('t' in axes or _composite_has(axes, 't'),
                                               'z' in axes or _composite_has(axes, 'z'), model, native)},
        'ranges': {name: _ndarray(np.asarray(array), dims) for name, (array, dims) in ranges.items()},
    }
    if custom:
        # CoverageJSON domains have no axes beyond x, y, z, t: say which slice this is
        cov['kazarr:dimensions'] = custom
    return cov


def _composite_has(axes: dict, coordinate: str) -> bool:
    composite = axes.get('composite')
    return bool(composite) and coordinate in composite['coordinates']


def _custom_slices(block: Block, model: GridModel):
    """(custom labels, index tuple) for every combination of the block's custom dims."""
    dims = block.custom_dims
    if not dims:
        yield {}, ()
        return
    for combo in itertools.product(*(range(block.axes[d].size) for d in dims)):
        labels = {}
        for d, i in zip(dims, combo):
            value = block.axes[d][i]
            labels[d] = value.item() if hasattr(value, 'item') else value
        yield labels, combo


def _cells_as_points(block: Block) -> Block:
    """A curvilinear grid's cells as a multi-point block: CoverageJSON Grids need 1-D x/y axes."""
    lon, lat = block.cell_lonlat
    answered = np.zeros(lon.shape, bool)
    for array in block.values.values():
        answered |= ~np.isnan(array).reshape((-1,) + lon.shape).all(axis=0)
    values = {name: array.reshape(array.shape[:-2] + (-1,))[..., answered.ravel()]
              for name, array in block.values.items()}
    axes = {k: v for k, v in block.axes.items() if k not in ('x', 'y')}
    axes['point'] = np.arange(int(answered.sum()))
    return Block('points', axes, values, np.column_stack([lon[answered], lat[answered]]), block.custom_dims)


def build(blocks: list[Block], model: GridModel, multi: bool = False) -> dict:
    coverages = []
    used = []
    for block in blocks:
        if block.kind == 'grid' and block.cell_lonlat is not None and not block.native_xy:
            block, multi = _cells_as_points(block), True
        used += list(block.values)
        for labels, combo in _custom_slices(block, model):
            values = {n: a[combo] for n, a in block.values.items()}
            sliced = dataclasses.replace(block, values=values, custom_dims=[])
            if block.kind == 'grid':
                coverages.append(_grid_coverage(block, model, labels, values))
            elif block.kind == 'trajectory':
                coverages.append(_trajectory_coverages(sliced, model, labels))
            else:
                coverages.append(_point_coverages(sliced, model, multi, labels))
    flat = []
    for item in coverages:
        flat.extend(item if isinstance(item, list) else [item])
    parameters = {name: parameter(model, name) for name in used}
    if len(flat) == 1:
        flat[0]['parameters'] = parameters
        return flat[0]
    domain_types = {c['domain']['domainType'] for c in flat}
    collection = {'type': 'CoverageCollection', 'parameters': parameters, 'coverages': flat}
    if len(domain_types) == 1:
        collection['domainType'] = domain_types.pop()
    return collection


def encode(document: dict) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)
