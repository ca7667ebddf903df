"""The environment variables the server reads, derived from its code, and the ones README.md documents.

Shared by test_compose.py and test_container.py (both in this directory). The scan walks the syntax
tree of every module of the package for the ways it reads the environment:

    os.environ.get('X'), os.environ['X'], 'X' in os.environ, os.getenv('X'),
    env.get('X') (a mapping named env/environ: jobs/settings.py, data/storage.py),
    _int('X', ...) (settings.py), _number(env, 'X', ...) (jobs/settings.py)

plus the `${X}` / `${X:-default}` references of pygeoapi-config.yml, which the server expands.
Writes (`os.environ['PYGEOAPI_CONFIG'] = ...`) are not reads: the server sets those itself.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / 'kazarr_provider'
README = ROOT / 'README.md'
BASE_CONFIG = ROOT / 'pygeoapi-config.yml'

ENV_NAME = re.compile(r'^[A-Z][A-Z0-9_]*$')
ENV_MAPPINGS = {'environ', 'env'}                         # names an environment mapping goes by
ENV_HELPERS = {'getenv', '_int', '_float', '_number', '_bool', '_flag', '_env'}   # helpers taking a name

# Read by the S3 client: S3Settings.from_env (kazarr_provider/data/storage.py) reads these and hands
# them to obstore's S3Store (endpoint, region, credentials). The scan finds them there; they are listed
# here as well so that a change in how S3Settings reads them cannot drop them from the allowed set
# unnoticed (test_compose checks that storage.py still names each one).
S3_VARIABLES = frozenset({
    'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_DEFAULT_REGION', 'AWS_REGION',
    'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN',
})

# Documented in README's table but read by nothing, on purpose: the row itself says so.
DOCUMENTED_NOT_READ = {
    'AWS_REQUEST_CHECKSUM_CALCULATION': 'README: "accepted for compatibility"; obstore adds no request '
                                        'checksums, so the variable changes nothing and nothing reads it',
}


def _is_environ(node: ast.AST) -> bool:
    return ((isinstance(node, ast.Attribute) and node.attr == 'environ')
            or (isinstance(node, ast.Name) and node.id in ENV_MAPPINGS))


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and ENV_NAME.match(node.value):
        return node.value
    return None


def variables_in_source(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            callee = func.attr if isinstance(func, ast.Attribute) else getattr(func, 'id', None)
            if isinstance(func, ast.Attribute) and func.attr in ('get', 'pop', 'setdefault') \
                    and _is_environ(func.value) and node.args:
                found.update(filter(None, [_name(node.args[0])]))
            elif callee in ENV_HELPERS:
                # the first argument that is a variable name: _int('X', ..), _number(env, 'X', ..)
                names = [n for n in map(_name, node.args) if n]
                found.update(names[:1])
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_environ(node.value):
            found.update(filter(None, [_name(node.slice)]))
        elif isinstance(node, ast.Compare) and any(isinstance(op, ast.In) for op in node.ops) \
                and any(_is_environ(c) for c in node.comparators):
            found.update(filter(None, [_name(node.left)]))
    return found


def variables_read_by_code() -> dict[str, list[str]]:
    """{variable: [files reading it]} over the package's modules and the base configuration."""
    read: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob('*.py')):
        for name in variables_in_source(path.read_text(encoding='utf8')):
            read.setdefault(name, []).append(str(path.relative_to(ROOT)))
    config = '\n'.join(line for line in BASE_CONFIG.read_text(encoding='utf8').splitlines()
                       if not line.lstrip().startswith('#'))          # its comments show ${VAR} as syntax
    for name in re.findall(r'\$\{([A-Z][A-Z0-9_]*)(?::-[^}]*)?\}', config):
        read.setdefault(name, []).append(BASE_CONFIG.name)
    return read


def server_variables() -> set[str]:
    """Every variable a kazarr_provider process reads: what the scan finds, plus S3_VARIABLES."""
    return set(variables_read_by_code()) | S3_VARIABLES


def documented_variables() -> set[str]:
    """The variables named in the first column of README's "Environment variables" table."""
    text = README.read_text(encoding='utf8')
    start = text.index('### Environment variables')
    end = text.find('\n#', start + 1)
    names = set()
    for line in text[start:end if end > 0 else None].splitlines():
        cells = line.split('|')
        if line.startswith('|') and len(cells) > 2:
            names.update(re.findall(r'`([A-Z][A-Z0-9_]*)`', cells[1]))
    return names
