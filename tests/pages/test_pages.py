"""The HTML pages in headless Chromium, offline: every request that leaves loopback is refused by the
browser, and a page passes only when it made none, every request it made succeeded, the console shows
no error, and its map (where it has one) drew the data. Screenshots go to test-output/screenshots."""
from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
import requests

ERA5 = 'era5.pressure_levels'
UTM = 'projected.utm32'          # projected (UTM zone 32N)
OCEAN = 'projected.ocean'        # curvilinear (rotated pole)
MESH = 'projected.mesh'          # UGRID triangle mesh


def _url(site, path: str, **params) -> str:
    return f'{site.url}{path}' + (f'?{urlencode(params)}' if params else '')


@pytest.mark.parametrize('path, text', [
    ('/', 'kazarr_provider'),
    ('/collections', 'ERA5-like pressure levels'),
    ('/conformance', 'ogcapi-edr-1'),
])
def test_pygeoapi_pages_load_offline(site, visit, path, text):
    page = visit(_url(site, path, f='html'))
    page.screenshot(f'pygeoapi{path.replace("/", "_") if path != "/" else "_landing"}')
    page.assert_clean()
    assert text in page.page.content()
    # Bootstrap's CSS is this server's: the header is laid out (flex), not unstyled
    assert page.page.evaluate("getComputedStyle(document.querySelector('header')).display") == 'flex'
    assert any('/static-kazarr/bootstrap/' in url for url in page.requests)


def test_openapi_page_is_swagger_ui_served_here(site, visit):
    page = visit(_url(site, '/openapi', f='html'))
    page.page.wait_for_selector('.swagger-ui .opblock', timeout=60_000)
    page.screenshot('openapi')
    page.assert_clean()
    assert page.page.locator('.opblock').count() > 20


@pytest.mark.parametrize('collection, kind, unit', [
    (ERA5, 'regular', 'K'),
    (UTM, 'projected', '1'),
    (OCEAN, 'curvilinear', 'degC'),
    (MESH, 'mesh', 'm'),
])
def test_collection_page_shows_our_metadata_and_draws_the_data(site, visit, collection, kind, unit):
    page = visit(_url(site, f'/collections/{collection}', f='html'))
    drawn = page.drawn()
    page.screenshot(f'collection_{kind}')
    page.assert_clean()
    document = requests.get(_url(site, f'/collections/{collection}', f='json'), timeout=30).json()
    assert 'error' not in drawn, drawn
    if kind == 'mesh':          # no coverage: a cube query's points
        assert drawn['markers'] > 100
    else:                       # a coverage painted as an image
        assert drawn['cells'] > 100 and drawn['painted'] > 100
    assert page.painted_pixels() > 100
    # the parameters with their units, the computed extents and the queries, from our collection document
    rows = page.page.locator('#parameters tr').all_inner_texts()
    for ident, parameter in document['parameter_names'].items():
        row = next(r for r in rows if r.split('\t')[0].strip() == ident)
        assert (parameter.get('unit') or {}).get('symbol', '') in row
    assert any(unit == r.split('\t')[2].strip() for r in rows[1:])
    extents = page.page.locator('#extents').inner_text()
    west, south, east, north = document['extent']['spatial']['bbox'][0]
    assert 'spatial' in extents and f'{round(west, 6):g}'[:5] in extents
    if 'temporal' in document['extent']:
        assert document['extent']['temporal']['interval'][0][0] in extents
    queries = page.page.locator('#queries').inner_text()
    for query in document['data_queries']:
        assert query in queries
    if kind != 'mesh':
        assert page.page.locator('#coverage-links a').count() >= 4


def test_collection_page_of_era5_shows_vertical_and_steps(site, visit):
    page = visit(_url(site, f'/collections/{ERA5}', f='html'))
    extents = page.page.locator('#extents').inner_text()
    assert 'every 6 hours' in extents and '2024-01-01T18:00:00Z' in extents
    assert 'vertical' in extents and 'hPa' in extents
    assert page.page.locator('#dimensions').inner_text().count('\n') >= 4
    page.assert_clean()


def test_browser_accept_header_gets_the_page_and_clients_get_json(site):
    browser = {'Accept': 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'}
    html = requests.get(_url(site, f'/collections/{ERA5}'), headers=browser, timeout=30)
    assert html.headers['Content-Type'].startswith('text/html') and 'id="parameters"' in html.text
    plain = requests.get(_url(site, f'/collections/{ERA5}'), timeout=30)
    assert plain.headers['Content-Type'].startswith('application/json') and plain.json()['id'] == ERA5
    for path in ('/processes', '/processes/isolines', '/jobs'):
        assert requests.get(_url(site, path), headers=browser, timeout=30).headers['Content-Type'].startswith(
            'text/html'), path
        assert requests.get(_url(site, path), timeout=30).json()
        assert requests.get(_url(site, path), headers={'Accept': 'application/json, text/html;q=0.5'},
                            timeout=30).json()
    # EDR and Coverages answers are pages only when asked with f=html
    edr = requests.get(_url(site, f'/collections/{ERA5}/position', coords='POINT(10 45)'), headers=browser,
                       timeout=30)
    assert edr.headers['Content-Type'].startswith('application/vnd.cov+json')


def test_edr_position_answer_as_a_page(site, visit):
    params = {'coords': 'POINT(10 45)', 'z': '850'}
    page = visit(_url(site, f'/collections/{ERA5}/position', f='html', **params))
    drawn = page.drawn()
    page.screenshot('edr_position')
    page.assert_clean()
    assert drawn['markers'] == 1 and page.painted_pixels() > 20
    # the page inlines exactly the CoverageJSON answer
    answer = requests.get(_url(site, f'/collections/{ERA5}/position', **params), timeout=30)
    assert answer.headers['Content-Type'].startswith('application/vnd.cov+json')
    inlined = page.page.evaluate("JSON.parse(document.getElementById('kazarr-data').textContent).coverage")
    assert inlined == answer.json()
    # a time series field: pick it and its table lists its values
    page.page.select_option('select[name="Field"]', label=next(
        o for o in page.page.locator('select[name="Field"] option').all_inner_texts() if o.startswith('t ')))
    assert page.page.locator('#values tbody tr').count() >= 1
    page.assert_clean()


@pytest.mark.parametrize('collection, params, kind', [
    ('sst_med', {'bbox': '10,35,20,40'}, 'regular'),
    (UTM, {'bbox': '7,45.3,7.5,45.8'}, 'projected'),
    (OCEAN, {'bbox': '0,40,20,55'}, 'curvilinear'),
    (MESH, {'bbox': '-8,44,-2,47'}, 'mesh'),
])
def test_edr_cube_answer_as_a_page(site, visit, collection, params, kind):
    page = visit(_url(site, f'/collections/{collection}/cube', f='html', **params))
    drawn = page.drawn()
    page.screenshot(f'edr_cube_{kind}')
    page.assert_clean()
    assert 'error' not in drawn, drawn
    if kind in ('regular', 'projected'):
        assert drawn['cells'] > 100 and drawn['painted'] > 100
    else:
        assert drawn['markers'] > 100
    assert page.painted_pixels() > 100
    assert page.page.locator('#values tbody tr').count() > 10
    if kind == 'projected':         # placed by the server's lon/lat of the UTM cell corners, inside the bbox
        bounds = page.page.evaluate("""() => {
          const img = document.querySelector('#map img.leaflet-image-layer');
          return img ? img.getBoundingClientRect().width : 0; }""")
        assert bounds > 100


def test_edr_answer_errors_stay_json(site):
    response = requests.get(_url(site, f'/collections/{ERA5}/position', coords='POINT(10)', f='html'), timeout=30)
    assert response.status_code == 400 and response.json()['parameter'] == 'coords'


@pytest.mark.parametrize('collection, kind', [(ERA5, 'regular'), (UTM, 'projected'), (OCEAN, 'curvilinear')])
def test_coverage_preview(site, visit, collection, kind):
    page = visit(_url(site, f'/collections/{collection}/coverage', f='html'))
    drawn = page.drawn()
    page.screenshot(f'coverage_{kind}')
    page.assert_clean()
    assert 'error' not in drawn, drawn
    assert drawn['painted'] > 100 and page.painted_pixels() > 100
    source = page.page.get_attribute('#map', 'data-source')
    assert 'f=CoverageJSON' in source and 'width=' in source
    if kind == 'regular':           # another time step and level: drawn again
        page.page.select_option('select[name="time"]', index=1)
        source = "document.getElementById('map').getAttribute('data-source')"
        page.page.wait_for_function(f"{source}.includes('time%28%22')")
        assert page.drawn()['painted'] > 100
        page.page.select_option('select[name="level"]', index=2)
        page.page.wait_for_function(f"{source}.includes('level%28700')")
        assert page.drawn()['painted'] > 100
        page.assert_clean()


def test_processes_pages_and_a_job_run_from_the_browser(site, visit):
    listing = visit(_url(site, '/processes', f='html'))
    listing.screenshot('processes')
    listing.assert_clean()
    assert listing.page.locator('#process-list a').count() == 4

    process = visit(_url(site, '/processes/isolines', f='html'))
    process.screenshot('process_isolines')
    process.assert_clean()
    inputs = process.page.locator('#inputs').inner_text()
    for name in ('collection', 'parameter', 'levels', 'bbox', 'datetime'):
        assert name in inputs
    assert '"enum"' in inputs and ERA5 in inputs           # the collection input's schema
    assert 'isolines' in process.page.locator('#outputs').inner_text()
    assert '"inputs"' in process.page.input_value('#execute-body')
    # submit the example as a job, from the page's form
    process.page.click('#execute')
    process.page.wait_for_selector('#job-link', timeout=60_000)
    job_url = process.page.get_attribute('#job-link', 'href')
    process.assert_clean()
    job_id = job_url.split('/jobs/')[1].split('?')[0]
    deadline = time.monotonic() + 120
    while requests.get(_url(site, f'/jobs/{job_id}'), timeout=30).json()['status'] in ('accepted', 'running'):
        assert time.monotonic() < deadline, 'job did not finish'
        time.sleep(0.5)

    job = visit(job_url)
    drawn = job.drawn(timeout=60_000)
    job.screenshot('job')
    job.assert_clean()
    assert job.page.locator('#status').inner_text() == 'successful'
    assert '100' in job.page.locator('#progress').inner_text()
    assert job.page.locator('#results a').count() >= 2          # all results, and each output
    assert drawn['features'] > 0 and job.painted_pixels() > 100   # the isolines on the map
    assert ERA5 in job.page.locator('#job-inputs').inner_text()

    jobs = visit(_url(site, '/jobs', f='html'))
    jobs.screenshot('jobs')
    jobs.assert_clean()
    assert job_id[:12] in jobs.page.locator('#job-list').inner_text()


def test_a_running_job_page_follows_the_job(site, visit):
    body = {'inputs': {'collection': ERA5, 'parameter': 't', 'levels': {'step': 1}}}
    created = requests.post(_url(site, '/processes/isobands/execution'), json=body,
                            headers={'Prefer': 'respond-async'}, timeout=30)
    assert created.status_code == 201
    page = visit(created.headers['Location'] + '?f=html')
    # it reloads itself once the job is done
    page.page.wait_for_function("document.getElementById('status').textContent === 'successful'", timeout=120_000)
    page.page.wait_for_selector('#results', timeout=30_000)
    page.drawn(timeout=60_000)
    page.screenshot('job_followed')
    page.assert_clean()
