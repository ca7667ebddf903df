"""Shared fixtures: analytic test datasets, a real S3 endpoint (moto) and real servers on loopback.

The `server` fixture is parametrised over the two back-ends, so every HTTP test
runs once against a local directory and once against S3.
"""
from __future__ import annotations

import http.client as http_client  # `http` is a fixture below
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from kazarr_provider import demo

ROOT = Path(__file__).resolve().parents[1]
MAX_VALUES = 300_000
EXPLICIT_MAX_VALUES = 5_000          # the explicit collection's own options.max_values
BUCKET = 'kazarr-test'
ACCESS_KEY = 'KAZARRTESTACCESSKEY7'
SECRET_KEY = 'kazarr-SECRET-never-shown-9f31'
# the credentials every S3 client of the test run uses (moto accepts any)
os.environ.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_DEFAULT_REGION='us-east-1')
# ... except the session-wide `server` (s3): its own access key, so that the listings its refresh thread
# sends every second can be told apart from (and left out of) what a test records
SESSION_SERVER_ACCESS_KEY = 'KAZARRSESSIONSERVER9'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_until(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise RuntimeError(f'timed out waiting for {what}')


class Moto:
    """moto_server on a loopback port; its request recorder counts what our server asks of S3."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.proc = None

    def start(self):
        # the recorder writes to ./moto_recording unless told otherwise: keep it out of the work tree
        env = {**os.environ, 'MOTO_RECORDER_FILEPATH': os.path.join(tempfile.gettempdir(), f'moto-rec-{self.port}')}
        self.proc = subprocess.Popen([sys.executable, '-m', 'moto.server', '-H', '127.0.0.1', '-p', str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                     env=env)

        def up():
            try:
                return requests.get(f'{self.url}/moto-api/', timeout=1).status_code < 500
            except requests.ConnectionError:
                return False
        wait_until(up, 30, 'moto_server')
        self.client().create_bucket(Bucket=BUCKET)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def client(self):
        import boto3
        return boto3.client('s3', endpoint_url=self.url, region_name='us-east-1',
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

    def upload(self, local: Path, prefix: str):
        client = self.client()
        files = [p for p in Path(local).rglob('*') if p.is_file()]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda p: client.put_object(
                Bucket=BUCKET, Key=f'{prefix}/{p.relative_to(local).as_posix()}', Body=p.read_bytes()), files))

    def delete_prefix(self, prefix: str):
        client = self.client()
        keys = [o['Key'] for page in client.get_paginator('list_objects_v2').paginate(Bucket=BUCKET, Prefix=prefix)
                for o in page.get('Contents', [])]
        for i in range(0, len(keys), 1000):
            client.delete_objects(Bucket=BUCKET, Delete={'Objects': [{'Key': k} for k in keys[i:i + 1000]]})

    def start_recording(self):
        requests.post(f'{self.url}/moto-api/recorder/reset-recording', timeout=5)
        requests.post(f'{self.url}/moto-api/recorder/start-recording', timeout=5)

    def recorded(self) -> list[dict]:
        """Requests S3 received since `start_recording` (method, key, Range header), leaving out the
        session-wide server's background listings."""
        text = requests.get(f'{self.url}/moto-api/recorder/download-recording', timeout=5).text
        requests.post(f'{self.url}/moto-api/recorder/stop-recording', timeout=5)
        out = []
        for line in text.strip().splitlines():
            entry = json.loads(line)
            if f'Credential={SESSION_SERVER_ACCESS_KEY}/' in entry['headers'].get('Authorization', ''):
                continue
            path = entry['url'].split(self.url, 1)[-1]
            out.append({'method': entry['method'], 'path': path, 'range': entry['headers'].get('Range'),
                        'headers': entry['headers']})
        return out


class FaultProxy:
    """An HTTP proxy in front of moto that injects faults.

    `rule(method, path)` answers None (forward), a number (wait that many seconds, then forward) or
    `(status, body)` (answer that instead of S3). Point AWS_ENDPOINT_URL at `url`.
    """

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.rule = None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                rule = proxy.rule(self.command, self.path) if proxy.rule else None
                if isinstance(rule, (int, float)):
                    time.sleep(rule)
                    rule = None
                if rule is not None:
                    status, payload = rule
                    self.send_response(status)
                    self.send_header('Content-Type', 'application/xml')
                    self.send_header('Content-Length', str(len(payload)))
                    self.end_headers()
                    try:
                        self.wfile.write(payload)
                    except BrokenPipeError:
                        pass
                    return
                upstream = http_client.HTTPConnection('127.0.0.1', proxy.upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != 'connection'}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ('transfer-encoding', 'connection', 'content-length'):
                        self.send_header(name, value)
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                try:
                    if self.command != 'HEAD':
                        self.wfile.write(data)
                except BrokenPipeError:          # the client gave up (its timeout): nothing to do
                    pass
                upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}'
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope='session')
def datasets_dir(tmp_path_factory) -> Path:
    """Demo stores plus format variants and one broken store, nested like a real bucket."""
    root = tmp_path_factory.mktemp('datasets')
    demo.write_demo_data(root)
    demo.make_era5(str(root / 'variants' / 'era5_v2_plain.zarr'), zarr_format=2, consolidated=False)
    demo.make_era5(str(root / 'variants' / 'era5_v3_plain.zarr'), zarr_format=3, consolidated=False)
    demo.make_era5(str(root / 'variants' / 'era5_v2_consolidated.zarr'), zarr_format=2, consolidated=True)
    demo.make_polynomial(str(root / 'polynomial.zarr'))
    demo.make_utm(str(root / 'projected' / 'utm32.zarr'))
    demo.make_polar(str(root / 'projected' / 'polar.zarr'))
    demo.make_curvilinear(str(root / 'projected' / 'ocean.zarr'))
    demo.make_mesh(str(root / 'projected' / 'mesh.zarr'))
    demo.make_utm_multiscales(str(root / 'projected' / 'utm_multiscales.zarr'))
    demo.make_tms_multiscales(str(root / 'projected' / 'tms.zarr'))
    demo.make_resolution_groups(str(root / 'projected' / 's2.zarr'))
    demo.make_utm_multiscales_root_crs(str(root / 'geozarr' / 'eopf_like.zarr'), coordinates=False)
    demo.make_transform_only(str(root / 'geozarr' / 'transform_only.zarr'))
    demo.make_polar_cf(str(root / 'geozarr' / 'polar_cf.zarr'))
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
def moto(datasets_dir, explicit_store):
    server = Moto().start()
    os.environ['AWS_ENDPOINT_URL'] = server.url        # for the in-process S3 tests
    server.upload(datasets_dir, 'datasets')
    server.upload(explicit_store, 'explicit/sst_copy.zarr')
    yield server
    server.stop()


class Server:
    """A running `kazarr-provider serve`, and how to add/remove a store on its back-end."""

    def __init__(self, backend: str, url: str, proc, log: Path, datasets: Path, moto: Moto | None):
        self.backend, self.url, self.proc, self.log, self.datasets, self.moto = \
            backend, url, proc, log, datasets, moto

    def add_store(self, relative: str, maker, scratch: Path):
        target = self.datasets / relative if self.backend == 'local' else scratch / relative
        maker(str(target))
        if self.backend == 's3':
            self.moto.upload(target, f'datasets/{relative}')

    def remove_store(self, relative: str):
        if self.backend == 'local':
            shutil.rmtree(self.datasets / relative)
        else:
            self.moto.delete_prefix(f'datasets/{relative}/')

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


def start_server(state: Path, env_extra: dict, explicit_data: str, backend: str, datasets: Path,
                 moto: Moto | None, workers: int = 1) -> Server:
    config = (ROOT / 'pygeoapi-config.yml').read_text().replace('resources:\n', f"""resources:
  explicit-sst:
    type: collection
    title: Explicitly configured SST
    description: configured in YAML, metadata from the data
    keywords: [sst]
    providers:
      - type: edr
        name: kazarr_provider.edr.KazarrEDRProvider
        data: {explicit_data}
        options:
          max_values: {EXPLICIT_MAX_VALUES}
""")
    config_file = state / 'config.yml'
    config_file.write_text(config)
    port = free_port()
    env = {**os.environ, 'KAZARR_STATE_DIR': str(state), 'KAZARR_CONFIG': str(config_file),
           'MAX_VALUES': str(MAX_VALUES), 'PORT': str(port), 'HOSTNAME': '127.0.0.1',
           'CATALOGUE_REFRESH_SECONDS': '1', **env_extra}
    env.pop('PUBLIC_URL', None)
    log = state / 'server.log'
    with open(log, 'w') as fh:
        proc = subprocess.Popen([sys.executable, '-m', 'kazarr_provider', 'serve', '--workers', str(workers)],
                                cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    url = f'http://127.0.0.1:{port}'

    def healthy():
        if proc.poll() is not None:
            raise RuntimeError('server exited:\n' + log.read_text()[-4000:])
        try:
            return requests.get(f'{url}/health', timeout=5).status_code == 200
        except requests.RequestException:     # refused, or queued while the worker loads
            return False
    wait_until(healthy, 120, 'kazarr-provider serve')
    return Server(backend, url, proc, log, datasets, moto)


def s3_env(moto: Moto, **extra) -> dict:
    return {'BUCKET_NAME': BUCKET, 'DATASETS_PATH': 'datasets', 'AWS_ENDPOINT_URL': moto.url, **extra}


@pytest.fixture(scope='session', params=['local', 's3'])
def server(request, datasets_dir, explicit_store, tmp_path_factory):
    state = tmp_path_factory.mktemp(f'state-{request.param}')
    if request.param == 'local':
        handle = start_server(state, {'DATASETS_PATH': str(datasets_dir), 'BUCKET_NAME': ''}, str(explicit_store),
                              'local', datasets_dir, None)
    else:
        moto = request.getfixturevalue('moto')
        handle = start_server(state, s3_env(moto, AWS_ACCESS_KEY_ID=SESSION_SERVER_ACCESS_KEY),
                              f's3://{BUCKET}/explicit/sst_copy.zarr', 's3', datasets_dir, moto)
    yield handle
    handle.stop()


@pytest.fixture(scope='session')
def http(server):
    session = requests.Session()
    session.base = server.url
    return session
