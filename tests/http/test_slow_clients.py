"""Slow or stalled clients do not take the server down (issue 14).

A real `kazarr-provider serve` with two workers; while many raw connections stall (connected and silent,
half a request line, a body shorter than its Content-Length, a request line trickled a byte at a time,
an answered connection the client neither reads nor closes), `/health` and an ordinary EDR query still
answer at once, and the stalled connections are dropped once they have had READ_TIMEOUT seconds.
"""
from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

from conftest import start_server

WORKERS = 2
STALLS = 2 * WORKERS + 2            # connections of each kind below: more than twice the workers
READ_TIMEOUT = 5                    # the server's READ_TIMEOUT here, so that the drop is seen quickly
BOUND = 1.0                         # seconds: a functional bound on one answer, not a benchmark
QUERY = '/collections/sst_med/position?coords=POINT(14 40)'


@pytest.fixture(scope='module')
def slow_server(datasets_dir, explicit_store, tmp_path_factory):
    state = tmp_path_factory.mktemp('state-slow-clients')
    handle = start_server(state, {'DATASETS_PATH': str(datasets_dir), 'BUCKET_NAME': '',
                                  'READ_TIMEOUT': str(READ_TIMEOUT)},
                          str(explicit_store), 'local', datasets_dir, None, workers=WORKERS)
    yield handle
    handle.stop()


class Stalls:
    """Raw connections that never finish their request; closed (and the tricklers stopped) on exit."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.address = (parts.hostname, parts.port)
        self.host = parts.netloc
        self.sockets: dict[str, list[socket.socket]] = {}
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def _open(self, kind: str, first: bytes = b'') -> socket.socket:
        sock = socket.create_connection(self.address, timeout=5)
        if first:
            sock.sendall(first)
        self.sockets.setdefault(kind, []).append(sock)
        return sock

    def open(self, count: int):
        body_head = (f'POST /collections/sst_med/position HTTP/1.1\r\nHost: {self.host}\r\n'
                     'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n').encode()
        for _ in range(count):
            self._open('idle')                                              # connected, sends nothing
            self._open('half request line', b'GET /collections/sst_med/posi')
            self._open('short body', body_head + b'coords=POI')            # 10 of the 1000 bytes announced
            sock = self._open('trickle', b'GET /health?')                 # one more byte every 0.3 s
            thread = threading.Thread(target=self._trickle, args=(sock,), daemon=True)
            thread.start()
            self.threads.append(thread)
            # answered (Connection: close), then neither closed nor read from again
            sock = self._open('answered, kept open',
                              f'GET /health HTTP/1.1\r\nHost: {self.host}\r\nConnection: close\r\n\r\n'.encode())
            sock.recv(65536)

    def _trickle(self, sock: socket.socket):
        while not self.stop.wait(0.3):
            try:
                sock.sendall(b'a')
            except OSError:          # dropped by the server
                return

    def all(self):
        return [(kind, sock) for kind, socks in self.sockets.items() for sock in socks]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for _, sock in self.all():
            sock.close()
        for thread in self.threads:
            thread.join(timeout=2)


def still_open(sock: socket.socket) -> bool:
    """Nothing received and no end of stream: the server still holds this connection."""
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b''
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def timed_get(url: str) -> tuple[float, int]:
    started = time.monotonic()
    # a fresh connection each time: the kernel hands it to whichever worker accepts first
    response = requests.get(url, timeout=(5, 30), headers={'Connection': 'close'})
    return time.monotonic() - started, response.status_code


def test_health_and_queries_answer_while_clients_stall(slow_server):
    with Stalls(slow_server.url) as stalls:
        opened = time.monotonic()
        stalls.open(STALLS)
        time.sleep(0.5)          # accepted, and a sync worker would now sit in recv() on one of them
        latencies = {'/health': [], QUERY: []}
        for _ in range(4):
            for path in latencies:
                seconds, status = timed_get(slow_server.url + path)
                assert status == 200, (path, status)
                latencies[path].append(seconds)
        print('latency with', len(stalls.all()), 'stalled connections:',
              {path: [round(s, 3) for s in values] for path, values in latencies.items()})
        for path, values in latencies.items():
            assert max(values) < BOUND, f'{path} took {max(values):.2f} s with stalled clients'
        # the stalls were in force all along: none has been answered or dropped yet
        assert time.monotonic() - opened < READ_TIMEOUT - 0.5, 'too slow to measure within the read timeout'
        for kind, sock in stalls.all():
            if kind != 'answered, kept open':
                assert still_open(sock), f'a {kind} connection was closed early'


def test_stalled_connections_are_dropped_after_the_read_timeout(slow_server):
    with Stalls(slow_server.url) as stalls:
        started = time.monotonic()
        stalls.open(1)
        for kind, sock in stalls.all():
            if kind == 'answered, kept open':
                continue
            sock.settimeout(READ_TIMEOUT + 10)
            received = b''
            try:
                while chunk := sock.recv(65536):
                    received += chunk
            except ConnectionResetError:
                pass
            elapsed = time.monotonic() - started
            # dropped by the read timeout (the trickler too, though it never stops sending), not before
            assert READ_TIMEOUT - 1 <= elapsed <= READ_TIMEOUT + 3, (kind, elapsed)
            if kind == 'short body':
                # the application was reading the body: 408, never an answer to a request cut short
                assert received.startswith(b'HTTP/1.1 408'), received[:300]
            else:
                assert received == b'', (kind, received[:300])    # no answer to half a request
    seconds, status = timed_get(slow_server.url + '/health')
    assert status == 200 and seconds < BOUND
