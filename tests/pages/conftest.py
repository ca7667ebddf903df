"""Fixtures of the page tests: one server on the local demo datasets and headless Chromium (Debian's
`chromium`, driven by Playwright without a browser download) that refuses every request leaving loopback."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

from conftest import ROOT, start_server

SCREENSHOTS = Path(os.environ.get('KAZARR_SCREENSHOTS') or ROOT / 'test-output' / 'screenshots')
LOOPBACK = ('127.0.0.1', 'localhost', '::1', '[::1]')
# what the browser must never do offline: the flags keep Chromium's own background traffic off
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                 '--disable-sync', '--no-first-run', '--disable-default-apps', '--disable-quic']


@pytest.fixture(scope='module')
def site(datasets_dir, explicit_store, tmp_path_factory):
    state = tmp_path_factory.mktemp('state-pages')
    handle = start_server(state, {'DATASETS_PATH': str(datasets_dir), 'BUCKET_NAME': ''}, str(explicit_store),
                          'local', datasets_dir, None)
    yield handle
    handle.stop()


@pytest.fixture(scope='module')
def chromium():
    executable = shutil.which('chromium')
    if executable is None:
        pytest.skip('Debian\'s chromium is not installed (apt-get install chromium)')
    playwright_api = pytest.importorskip('playwright.sync_api')
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Visit:
    """One page in a fresh context: console errors, failed requests and blocked (non-loopback) requests."""

    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport={'width': 1280, 'height': 900})
        self.page = self.context.new_page()
        self.errors, self.failed, self.blocked, self.requests = [], [], [], []
        self.context.route('**/*', self._route)
        self.page.on('console', lambda m: self.errors.append(f'{m.type}: {m.text}') if m.type == 'error' else None)
        self.page.on('pageerror', lambda e: self.errors.append(f'uncaught: {e}'))
        self.page.on('requestfailed', lambda r: self.failed.append(f'{r.url}: {r.failure}'))
        self.page.on('response', lambda r: self.failed.append(f'{r.status} {r.url}') if r.status >= 400 else None)
        self.page.goto(url, wait_until='networkidle', timeout=60_000)

    def _route(self, route):
        url = route.request.url
        if url.startswith(('data:', 'blob:')) or urlparse(url).hostname in LOOPBACK:
            self.requests.append(url)
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort('internetdisconnected')

    def assert_clean(self):
        assert self.blocked == [], f'requests leaving this machine: {self.blocked}'
        assert self.failed == [], f'failed requests: {self.failed}'
        assert self.errors == [], f'console errors: {self.errors}'

    def drawn(self, timeout: float = 30_000) -> dict:
        """What the page's map drew (window.kazarrMap), once it says it is done."""
        self.page.wait_for_selector('#map[data-drawn="yes"], #map[data-drawn="error"]', timeout=timeout)
        return self.page.evaluate('window.kazarrMap')

    def painted_pixels(self) -> int:
        """Non-transparent pixels of the map's images and canvases, counted here (not by the page's script)."""
        return self.page.evaluate(PAINTED)

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f'{re.sub(r"[^A-Za-z0-9_.-]+", "_", name)}.png'
        self.page.screenshot(path=str(path), full_page=True)
        print(f'screenshot: {path}')
        return path

    def close(self):
        self.context.close()


PAINTED = """() => {
  const map = document.getElementById('map');
  if (!map) { return 0; }
  let total = 0;
  const count = (source, width, height) => {
    if (!width || !height) { return 0; }
    const canvas = document.createElement('canvas');
    canvas.width = width; canvas.height = height;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(source, 0, 0, width, height);
    const data = ctx.getImageData(0, 0, width, height).data;
    let n = 0;
    for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) { n++; } }
    return n;
  };
  map.querySelectorAll('img.leaflet-image-layer').forEach(img => {
    total += count(img, img.naturalWidth, img.naturalHeight);
  });
  map.querySelectorAll('.leaflet-overlay-pane canvas').forEach(c => { total += count(c, c.width, c.height); });
  return total;
}"""


@pytest.fixture
def visit(chromium, request):
    opened = []

    def open_page(url: str) -> Visit:
        page = Visit(chromium, url)
        opened.append(page)
        return page
    yield open_page
    for page in opened:
        page.close()
