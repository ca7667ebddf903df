"""The selection core without HTTP: region geometry against brute force, frozen requests, what the
selectors decide, and many-centre radius answers against one centre at a time."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import shapely
import xarray as xr
from pyproj import Geod

from kazarr_provider import demo
from kazarr_provider.api.edr.parse import parse_query
from kazarr_provider.api.service import EDR_PARAMETERS, coverage_document
from kazarr_provider.core.model import build_model
from kazarr_provider.core.query import AxisRequest, Interpolation
from kazarr_provider.core.select import regions
from kazarr_provider.core.select.dispatch import Selected, select
from kazarr_provider.core.select.windows import lonlat_window, lonlat_windows
from kazarr_provider.data.catalogue import get_dataset
from kazarr_provider.errors import FIELDS, InvalidParameter, NoData, with_parameter_names

GEOD = Geod(ellps='WGS84')
LIMIT = 10**7


@pytest.fixture(scope='module')
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp('select_core')
    out = {}
    for name, maker in (('era5', demo.make_era5), ('sst', demo.make_sst), ('utm', demo.make_utm),
                        ('mesh', demo.make_mesh)):
        maker(str(root / f'{name}.zarr'))
        out[name] = get_dataset(str(root / f'{name}.zarr'))
    return out


# --- region geometry -------------------------------------------------------------------------------

def test_radius_mask_matches_brute_force_geodesic_distance():
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(-180, 180, 3000), rng.uniform(-89, 89, 3000)
    for lon0, lat0, metres in ((10.0, 45.0, 800e3), (179.5, -10.0, 1500e3), (0.0, 88.0, 600e3), (-60, -70, 5e6)):
        mask = regions.radius_mask(lon0, lat0, metres, lon, lat)
        truth = np.array([GEOD.inv(lon0, lat0, x, y)[2] <= metres for x, y in zip(lon, lat)])
        assert (mask == truth).all() and truth.any()


def test_near_any_centre_equals_the_union_of_per_centre_masks():
    rng = np.random.default_rng(2)
    lon, lat = rng.uniform(-20, 20, 4000), rng.uniform(-30, 30, 4000)
    centres = rng.uniform(-20, 20, (300, 2))
    for metres in (1.0, 50e3, 400e3):
        union = np.zeros(lon.shape, bool)
        for lon0, lat0 in centres:
            union |= np.array(GEOD.inv(np.full(lon.size, lon0), np.full(lon.size, lat0), lon, lat)[2]) <= metres
        assert (regions.near_any(centres[:, 0], centres[:, 1], metres, lon, lat) == union).all()
    # a point exactly at a centre, and a radius wider than the Earth: every point
    assert regions.near_any([5.0], [5.0], 1.0, np.array([5.0]), np.array([5.0])).all()
    assert regions.near_any([0.0], [0.0], 2.1e7, lon, lat).all()


def test_circles_lie_at_the_radius_and_hold_the_poles_as_caps():
    lon0, lat0 = np.array([10.0, 179.0, 0.0]), np.array([45.0, 0.0, 89.0])
    shapes = regions.circles(lon0, lat0, 300e3)
    for k in (0, 1):                      # ordinary circles: every outline vertex at 300 km
        ring = shapely.get_coordinates(shapes[k].exterior)
        distance = GEOD.inv(np.full(len(ring), lon0[k]), np.full(len(ring), lat0[k]), ring[:, 0], ring[:, 1])[2]
        np.testing.assert_allclose(distance, 300e3, rtol=1e-9)
        assert len(ring) == regions.CIRCLE_VERTICES
    west, south, east, north = shapes[2].bounds           # 111 km from the pole: a cap
    assert (west, east, north) == (-180.0, 180.0, 90.0) and south < 89.0
    assert shapely.equals_exact(regions.circle(10.0, 45.0, 300e3), shapes[0], 0.0)


def test_radius_bounds_hold_the_circle():
    lon0, lat0 = np.array([10.0, -170.0, 30.0]), np.array([45.0, -60.0, 0.0])
    west, south, east, north = regions.radius_bounds(lon0, lat0, 500e3)
    for k, shape in enumerate(regions.circles(lon0, lat0, 500e3)):
        x0, y0, x1, y1 = shape.bounds
        assert west[k] <= x0 and x1 <= east[k] and south[k] <= y0 and y1 <= north[k]


def test_polygon_mask_matches_shapely_point_in_polygon_per_cell():
    rng = np.random.default_rng(3)
    theta = np.linspace(0, 2 * np.pi, 500, endpoint=False)
    r = 5 + 1.5 * np.sin(9 * theta)
    # vertices and points on a 1/64 degree lattice: folding -180..180 into the polygon's 0..360 frame is exact
    outer = np.round(np.column_stack([190 + r * np.cos(theta), 10 + r * np.sin(theta)]) * 64) / 64
    polygon = shapely.Polygon(outer, [[(188, 9), (190, 9), (190, 11), (188, 9)]])
    cells = np.round(np.column_stack([rng.uniform(-180, -160, 5000), rng.uniform(0, 20, 5000)]) * 64) / 64
    lon = np.concatenate([cells[:, 0], outer[:50, 0] - 360, [-171.0, -170.5]])
    lat = np.concatenate([cells[:, 1], outer[:50, 1], [10.0, 9.5]])
    mask = regions.polygon_mask(polygon, lon, lat)
    truth = np.array([polygon.intersects(shapely.Point(x + 360, y)) for x, y in zip(lon, lat)])
    assert (mask == truth).all() and truth[:5000].any() and not truth[:5000].all()
    assert mask[5000:5050].all()                          # the vertices themselves are held
    assert not mask[-1] and mask[-2]                      # (189.5, 9.5) is inside the hole; (189, 10) on its edge
    assert not shapely.is_prepared(polygon)               # the request's polygon is not touched


def test_bbox_mask_across_the_antimeridian():
    lon, lat = np.array([170.0, 179.9, -179.9, -170.1, -169.9, 0.0]), np.zeros(6)
    assert regions.bbox_mask(lon, lat, 170, -1, -170, 1).tolist() == [True, True, True, True, False, False]


def test_corridor_distance_matches_brute_force():
    line = shapely.LineString([(0, 40), (10, 45)])
    vertices = regions.densified_path(line, 100e3)
    rng = np.random.default_rng(4)
    lon, lat = rng.uniform(-2, 12, 400), rng.uniform(37, 48, 400)
    dense = GEOD.npts(0, 40, 10, 45, 20000, initial_idx=0, terminus_idx=0)
    dense_lon, dense_lat = np.array(dense)[:, 0], np.array(dense)[:, 1]
    truth = np.array([np.min(GEOD.inv(dense_lon, dense_lat, np.full(dense_lon.size, x), np.full(dense_lat.size, y))[2])
                      for x, y in zip(lon, lat)])
    near = np.abs(truth - 100e3) > 100.0                   # away from the boundary, where 20 000 samples decide
    got = regions.corridor_distance(lon, lat, vertices, 100e3)
    assert ((got <= 100e3) == (truth <= 100e3))[near].all()


def _model(lon: np.ndarray, lat: np.ndarray):
    ds = xr.Dataset({'v': (('lat', 'lon'), np.zeros((lat.size, lon.size)), {'units': '1'})},
                    coords={'lat': ('lat', lat, {'units': 'degrees_north'}),
                            'lon': ('lon', lon, {'units': 'degrees_east'})})
    return build_model(ds)


@pytest.mark.parametrize('lon', [np.arange(144) * 2.5, np.arange(-180, 180, 5.0) + 2.5, np.arange(361.0),
                                 np.arange(10.0, 40.0, 0.5)[::-1], np.arange(-6, 36, 0.1) + 0.05])
def test_many_lonlat_windows_are_the_windows_cut_one_at_a_time(lon):
    model = _model(lon, np.linspace(80, -80, 33))
    rng = np.random.default_rng(5)
    west = rng.uniform(-400, 400, 300)
    east = west + np.concatenate([rng.uniform(-30, 60, 250), rng.uniform(300, 420, 50)])
    south = rng.uniform(-90, 80, 300)
    north = south + rng.uniform(0, 40, 300)
    many = lonlat_windows(model, west, south, east, north, LIMIT)
    for k in range(west.size):
        try:
            one = lonlat_window(model, west[k], south[k], east[k], north[k], LIMIT)
        except NoData as error:
            assert many[k] == error.description
            continue
        for name in ('xi', 'yi', 'x', 'y'):
            np.testing.assert_array_equal(getattr(many[k], name), getattr(one, name))


# --- frozen requests, returned decisions ------------------------------------------------------------

def test_a_query_cannot_be_written(stores):
    query = parse_query('radius', {'coords': 'MULTIPOINT((10 45),(11 46))', 'within': '300', 'within-units': 'km',
                                   'interpolation': 'idw', 'parameter-name': 't', 'z': '850'}, stores['era5'].model)
    with pytest.raises(dataclasses.FrozenInstanceError):
        query.multi = False
    with pytest.raises(dataclasses.FrozenInstanceError):
        query.z = AxisRequest()
    with pytest.raises(dataclasses.FrozenInstanceError):
        query.interpolation.spatial = 'nearest'
    with pytest.raises(TypeError):
        query.interpolation.params['radius'] = 1.0
    with pytest.raises(ValueError):
        query.points[0, 0] = 0.0
    with pytest.raises(ValueError):
        query.z.values[0] = 500.0
    with pytest.raises(TypeError):
        query.custom['number'] = AxisRequest()
    # idw's radius narrowed to the circle's in a new Interpolation, built before the Query
    assert query.interpolation.params['radius'] == 300.0 and query.parameters == ('t',)
    derived = dataclasses.replace(query, z=AxisRequest(interval=(500.0, 900.0)))
    assert query.z.values.tolist() == [850.0] and derived.z.interval == (500.0, 900.0)


def test_interpolation_params_are_a_read_only_copy():
    given = {'power': 2.0}
    interpolation = Interpolation('idw', given)
    given['power'] = 3.0
    assert interpolation.params['power'] == 2.0


def test_select_returns_multi_and_the_levels_it_used(stores):
    era5, mesh = stores['era5'], stores['mesh']
    point = parse_query('position', {'coords': 'POINT(10 45)'}, era5.model)
    selected = select(era5.ds, era5.model, point, LIMIT)
    assert isinstance(selected, Selected) and not selected.multi and selected.vertical is None
    assert list(selected) == list(selected.blocks) and len(selected) == len(selected.blocks)
    multi = parse_query('position', {'coords': 'MULTIPOINT((10 45),(11 45))'}, era5.model)
    assert select(era5.ds, era5.model, multi, LIMIT).multi
    # a mesh answers a POLYGON with its nodes: multi-point, said in the result, the query untouched
    area = parse_query('area', {'coords': 'POLYGON((-8 44,-2 44,-2 47,-8 47,-8 44))'}, mesh.model)
    assert select(mesh.ds, mesh.model, area, LIMIT).multi and not area.multi
    # corridor-height: the levels within half the height of the path's Z, returned, not written back
    corridor = parse_query('corridor', {'coords': 'LINESTRING Z(0 40 700,10 45 700)', 'corridor-width': '300',
                                        'width-units': 'km', 'corridor-height': '350', 'parameter-name': 't'},
                           era5.model)
    selected = select(era5.ds, era5.model, corridor, LIMIT)
    assert selected.vertical.interval == (525.0, 875.0) and corridor.z.is_all
    levels = {float(v) for block in selected for v in block.axes['z']}
    assert levels == {v for v in era5.model.z_values if 525 <= v <= 875}


# --- errors: fields in the core, parameters at the API ----------------------------------------------

def test_core_errors_name_fields_and_the_api_names_parameters(stores):
    era5 = stores['era5']
    query = parse_query('corridor', {'coords': 'LINESTRING(0 40,10 45)', 'corridor-width': '300',
                                     'width-units': 'km', 'corridor-height': '350'}, era5.model)
    with pytest.raises(InvalidParameter) as raised:
        select(era5.ds, era5.model, query, LIMIT)
    assert raised.value.field == 'height' and raised.value.parameter is None
    assert not raised.value.description.startswith('corridor-height')
    named = with_parameter_names(raised.value, EDR_PARAMETERS)
    assert named.parameter == 'corridor-height' and named.description.startswith('corridor-height: ')
    assert named.body()['parameter'] == 'corridor-height' and raised.value.parameter is None
    with pytest.raises(NoData) as raised:
        coverage_document(era5, 'position', {'coords': 'POINT(0 0)', 'datetime': '2030-01-01T00:00:00Z'}, LIMIT)
    assert raised.value.parameter == 'datetime' and raised.value.description.startswith('datetime: the time ')
    with pytest.raises(NoData) as raised:
        coverage_document(era5, 'position', {'coords': 'POINT(0 0)', 'z': '5000'}, LIMIT)
    assert raised.value.parameter == 'z' and raised.value.description.startswith('z: ')
    assert set(EDR_PARAMETERS) <= set(FIELDS)
    unchanged = InvalidParameter('coords: bad', 'coords')
    assert with_parameter_names(unchanged, EDR_PARAMETERS) is unchanged


# --- many centres at once = one centre at a time -----------------------------------------------------

def _blocks(selected):
    return [(block.centre, {k: np.asarray(v).tolist() for k, v in block.axes.items()}, block.values)
            for block in selected]


@pytest.mark.parametrize('store, within, params', [
    ('sst', 15e3, {}),
    ('era5', 600e3, {'parameter-name': 't,u', 'z': '850,500'}),
    ('utm', 25e3, {}),
])
def test_many_centres_answer_as_each_centre_alone(stores, store, within, params):
    opened = stores[store]
    model = opened.model
    rng = np.random.default_rng(6)
    if store == 'utm':
        lon, lat = rng.uniform(6.3, 8.1, 40), rng.uniform(45.0, 46.2, 40)
    elif store == 'era5':
        lon, lat = np.concatenate([rng.uniform(-180, 360, 40), [179.9, 0.0]]), \
            np.concatenate([rng.uniform(-90, 90, 40), [0.0, 89.5]])
    else:
        lon, lat = rng.uniform(-7, 37, 200), rng.uniform(29, 47, 200)
    base = parse_query('radius', {'coords': 'POINT(10 45)', 'within': '1', 'within-units': 'km', **params}, model)
    many = dataclasses.replace(base, points=np.column_stack([lon, lat]), multi=True, within_m=within)
    together = _blocks(select(opened.ds, model, many, LIMIT))
    alone = []
    for point in np.column_stack([lon, lat]):
        try:
            alone += _blocks(select(opened.ds, model, dataclasses.replace(many, points=point[None, :]), LIMIT))
        except NoData:
            pass
    assert len(alone) > 5 and len(together) == len(alone)
    for (centre, axes, values), (centre_alone, axes_alone, values_alone) in zip(together, alone):
        assert centre == centre_alone and axes == axes_alone and values.keys() == values_alone.keys()
        for name in values:
            assert values[name].dtype == values_alone[name].dtype
            np.testing.assert_array_equal(values[name], values_alone[name])     # NaN where NaN, else equal
