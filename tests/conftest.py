"""Shared fixtures: analytic test datasets on disk and a real server on loopback."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from kazarr_provider import demo

ROOT = Path(__file__).resolve().parents[1]
MAX_VALUES = 300_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='session')
def datasets_dir(tmp_path_factory) -> Path:
    """Demo stores plus format variants and one broken store, nested like a real bucket."""
    root = tmp_path_factory.mktemp('datasets')
    demo.write_demo_data(root)
    demo.make_era5(str(root / 'variants' / 'era5_v2_plain.zarr'), zarr_format=2, consolidated=False)
    demo.make_era5(str(root / 'variants' / 'era5_v3_plain.zarr'), zarr_format=3, consolidated=False)
    demo.make_era5(str(root / 'variants' / 'era5_v2_consolidated.zarr'), zarr_format=2, consolidated=True)
    broken = root / 'broken.zarr'
    broken.mkdir()
    (broken / 'zarr.json').write_text('{not json')
    return root


@pytest.fixture(scope='session')
def explicit_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp('explicit') / 'sst_copy.zarr'
    demo.make_sst(str(path), zarr_format=3, consolidated=False)
    return path


@pytest.fixture(scope='session')
def server(datasets_dir, explicit_store, tmp_path_factory):
    """`kazarr-provider serve` (gunicorn) on a free loopback port."""
    state = tmp_path_factory.mktemp('state')
    config = (ROOT / 'pygeoapi-config.yml').read_text().replace('resources: {}', f"""resources:
  explicit-sst:
    type: collection
    title: Explicitly configured SST
    description: configured in YAML, metadata from the data
    keywords: [sst]
    providers:
      - type: edr
        name: kazarr_provider.edr.KazarrEDRProvider
        data: {explicit_store}
""")
    config_file = state / 'config.yml'
    config_file.write_text(config)
    port = free_port()
    env = {**os.environ, 'DATASETS_PATH': str(datasets_dir), 'KAZARR_STATE_DIR': str(state),
           'KAZARR_CONFIG': str(config_file), 'MAX_VALUES': str(MAX_VALUES), 'PORT': str(port),
           'HOSTNAME': '127.0.0.1', 'CATALOGUE_REFRESH_SECONDS': '1'}
    env.pop('PUBLIC_URL', None)
    log = open(state / 'server.log', 'w')
    proc = subprocess.Popen([sys.executable, '-m', 'kazarr_provider', 'serve', '--workers', '1'],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f'http://127.0.0.1:{port}'
    deadline = time.monotonic() + 90
    while True:
        try:
            if requests.get(f'{url}/health', timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.close()
            raise RuntimeError('server did not start:\n' + (state / 'server.log').read_text()[-4000:])
        time.sleep(0.3)
    yield type('Server', (), {'url': url, 'log': state / 'server.log', 'datasets': datasets_dir})
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


@pytest.fixture(scope='session')
def http(server):
    session = requests.Session()
    session.base = server.url
    return session
