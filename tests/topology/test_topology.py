"""The production topology on one machine (moto S3, PostgreSQL, a Dask scheduler with two workers, two
servers): `make topology`'s scripted session passes — discovery, EDR and Coverages on both servers, a job
submitted on one and fetched from the other, a refresh after an upload, a server killed mid-job."""
from __future__ import annotations

import glob
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not glob.glob('/usr/lib/postgresql/*/bin/initdb'),
                    reason='PostgreSQL is not installed: apt-get install postgresql (.ci/run does)')
def test_the_scripted_session_passes(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / 'bench' / 'topology.py'), '--session', '--work',
                             str(tmp_path)], capture_output=True, text=True, timeout=900, cwd=ROOT)
    print(result.stdout)
    steps = [line for line in result.stdout.splitlines() if line[:2] in ('1.', '2.', '3.', '4.', '5.')]
    assert result.returncode == 0 and len(steps) == 5 and 'session passed' in result.stdout, \
        result.stdout[-3000:] + result.stderr[-3000:]
