"""Computations the job tests run in executor processes (imported there as `jobs.tasks`: the tests
directory is on PYTHONPATH, see conftest.py)."""
from __future__ import annotations

import os
import time

from kazarr_provider.errors import InvalidParameter


def squares(args, progress):
    """{'n': N}: the squares 0..N-1 as text and as raw bytes (a second output, in chunks)."""
    n = int(args['n'])
    values = []
    for i in range(n):
        values.append(i * i)
        progress(100 * (i + 1) // n, f'{i + 1} of {n}')
    text = ','.join(map(str, values)).encode()
    return {'text': ('text/plain', text), 'raw': ('application/octet-stream', (bytes([v % 256]) for v in values))}


def invalid(args, progress):
    progress(10, 'checking')
    raise InvalidParameter(f"x must be positive, got {args['x']}", 'x')


def crash(args, progress):
    """An unexpected error whose message holds the secret key of the environment."""
    raise RuntimeError(f"could not sign with {os.environ.get('AWS_SECRET_ACCESS_KEY')}\nTraceback: secret lines")


def slow(args, progress):
    """Runs `seconds` (reporting progress every 50 ms) and notes in `marker` how it ended."""
    marker = args.get('marker')
    start = time.monotonic()
    try:
        while time.monotonic() - start < args['seconds']:
            progress(min(99, int(100 * (time.monotonic() - start) / args['seconds'])), 'working')
            time.sleep(0.05)
    except BaseException as stop:
        if marker:
            with open(marker, 'w') as file:
                file.write(type(stop).__name__)
        raise
    if marker:
        with open(marker, 'w') as file:
            file.write('completed')
    return {'out': ('text/plain', b'done')}


def big(args, progress):
    """An output of `mib` MiB in 1 MiB chunks (a multipart upload on S3)."""
    chunk = bytes(range(256)) * 4096
    return {'blob': ('application/octet-stream', (chunk for _ in range(args['mib'])))}
