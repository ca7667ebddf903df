"""docker-compose.yml, checked without Docker: every variable it sets is one its service reads, every
image tag is pinned, and the topology is wired the way README.md documents it (servers on MinIO, the
PostgreSQL job store, the Dask scheduler and its workers).

Also holds README's "Environment variables" table against the code: a documented variable nothing
reads is documentation drift.
"""
from __future__ import annotations

import configparser
import fnmatch
import re
from urllib.parse import urlsplit

import pytest
import yaml

from server_variables import (DOCUMENTED_NOT_READ, ROOT, S3_VARIABLES, documented_variables,
                              server_variables, variables_read_by_code)

COMPOSE_FILE = ROOT / 'docker-compose.yml'
OUR_IMAGE = 'kazarr-provider'

# Variables of third-party images, allowed only on services of that image (each image's own docs).
THIRD_PARTY_VARIABLES = {
    'minio/minio': {'MINIO_ROOT_USER', 'MINIO_ROOT_PASSWORD', 'MINIO_REGION', 'MINIO_BROWSER'},
    'minio/mc': {'MC_HOST_*'},                               # MC_HOST_<alias>=http://user:secret@host
    'postgres': {'POSTGRES_USER', 'POSTGRES_PASSWORD', 'POSTGRES_DB', 'POSTGRES_INITDB_ARGS', 'PGDATA'},
}
FLOATING_TAGS = {'latest', 'stable', 'edge', 'main', 'master', 'nightly', 'dev', 'current', 'lts'}


@pytest.fixture(scope='module')
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding='utf8'))


@pytest.fixture(scope='module')
def services(compose) -> dict:
    return compose['services']


def interpolate(value) -> str:
    """A value as Compose would give it with no .env file: `${X:-default}` -> default, `${X}` -> ''."""
    text = str(value)
    text = re.sub(r'\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}', r'\1', text)
    return re.sub(r'\$\{[A-Za-z_][A-Za-z0-9_]*\}', '', text).replace('$$', '$')


def environment(service: dict) -> dict[str, str]:
    env = service.get('environment') or {}
    if isinstance(env, list):                                # ["KEY=value", "KEY"]
        env = dict(item.partition('=')[::2] for item in env)
    return {key: interpolate(value) for key, value in env.items()}


def image_of(service: dict) -> str:
    return str(service.get('image') or '')


def repository(image: str) -> str:
    """'docker.io/library/postgres:16.14-bookworm' -> 'postgres'; 'minio/mc:RELEASE...' -> 'minio/mc'."""
    name = image.split('@', 1)[0]
    last = name.rsplit('/', 1)[-1]
    if ':' in last:
        name = name[:len(name) - len(last)] + last.split(':', 1)[0]
    for registry in ('docker.io/library/', 'docker.io/', 'library/'):
        if name.startswith(registry):
            name = name[len(registry):]
    return name


def tag_of(image: str) -> str | None:
    last = image.split('@', 1)[0].rsplit('/', 1)[-1]
    return last.split(':', 1)[1] if ':' in last else None


def is_ours(service: dict) -> bool:
    return 'build' in service or repository(image_of(service)) == OUR_IMAGE


def unpinned_reason(image: str) -> str | None:
    """Why `image` is not pinned, or None when it is (an exact version tag, a RELEASE tag, or a digest)."""
    if not image:
        return 'no image'
    if '$' in image:
        return 'a variable in the image reference (the file must name the version it was tested with)'
    if '@sha256:' in image:
        return None
    tag = tag_of(image)
    if tag is None:
        return 'no tag (that is :latest)'
    if tag.lower() in FLOATING_TAGS:
        return f'floating tag {tag!r}'
    if not re.search(r'\d+\.\d+|RELEASE\.\d{4}-\d{2}-\d{2}', tag):
        return f'tag {tag!r} names no exact version (major.minor at least, or a RELEASE date)'
    return None


def project_version() -> str:
    config = configparser.ConfigParser()
    config.read(ROOT / 'setup.cfg')
    return config['metadata']['version']


def command_text(service: dict) -> str:
    parts = []
    for key in ('entrypoint', 'command'):
        value = service.get(key) or []
        parts.extend(value if isinstance(value, list) else [value])
    return interpolate(' '.join(map(str, parts)))


def services_where(services: dict, predicate) -> dict:
    return {name: s for name, s in services.items() if predicate(name, s)}


def kazarr_servers(services: dict) -> dict:
    """Our image, running its own entry point (`kazarr-provider serve`)."""
    return services_where(services, lambda n, s: is_ours(s) and 'entrypoint' not in s)


def dask_processes(services: dict, role: str) -> dict:
    return services_where(services, lambda n, s: is_ours(s) and command_text(s).startswith(f'dask {role}'))


# --- variables -------------------------------------------------------------------------------------

def test_the_scan_finds_what_the_server_reads():
    """A canary for the scan itself: if these stop being found, the scan broke, not the server."""
    read = variables_read_by_code()
    for name in ('DATASETS_PATH', 'BUCKET_NAME', 'PUBLIC_URL', 'PORT', 'HOSTNAME', 'WORKERS',
                 'JOBS_DATABASE_URL', 'RESULTS_URL', 'DASK_SCHEDULER_ADDRESS', 'CACHE_DIR',
                 'AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'PYGEOAPI_LOG_LEVEL'):
        assert name in read, f'the scan no longer finds {name}: see tests/packaging/server_variables.py'
    assert 'PYGEOAPI_CONFIG' not in read, 'a write (os.environ[X] = ...) was taken for a read'


def test_the_listed_s3_variables_are_still_read_by_storage():
    storage = (ROOT / 'kazarr_provider' / 'data' / 'storage.py').read_text(encoding='utf8')
    missing = sorted(name for name in S3_VARIABLES if f"'{name}'" not in storage)
    assert not missing, f'S3Settings (data/storage.py) no longer reads {missing}: update S3_VARIABLES'


def test_every_documented_variable_is_read_by_the_code():
    documented = documented_variables()
    assert len(documented) > 20, 'README\'s "Environment variables" table was not found or not parsed'
    read = server_variables()
    drift = sorted(documented - read - set(DOCUMENTED_NOT_READ))
    assert not drift, (f'README documents {drift} under "Environment variables", but no code reads '
                       f'{"it" if len(drift) == 1 else "them"}')
    for name, why in DOCUMENTED_NOT_READ.items():            # the exceptions must stay true
        assert name in documented, f'{name} is no longer documented: drop it from DOCUMENTED_NOT_READ'
        assert name not in read, f'{name} is read now: drop it from DOCUMENTED_NOT_READ ({why})'


def test_kazarr_services_set_only_variables_the_server_reads(services):
    read = server_variables()
    ours = services_where(services, lambda n, s: is_ours(s))
    assert ours, 'no service runs our image'
    unread = {name: sorted(set(environment(s)) - read) for name, s in ours.items()}
    unread = {name: names for name, names in unread.items() if names}
    assert not unread, f'variables that kazarr_provider does not read: {unread}'


def test_third_party_services_set_only_their_own_variables(services):
    for name, service in services.items():
        if is_ours(service):
            continue
        repo = repository(image_of(service))
        assert repo in THIRD_PARTY_VARIABLES, \
            f'{name}: image {repo!r} has no entry in THIRD_PARTY_VARIABLES (list the variables it reads)'
        allowed = THIRD_PARTY_VARIABLES[repo]
        stray = sorted(v for v in environment(service) if not any(fnmatch.fnmatchcase(v, a) for a in allowed))
        assert not stray, f'{name} ({repo}) sets {stray}, which {repo} does not read'


# --- images ----------------------------------------------------------------------------------------

def test_every_image_is_pinned(services):
    problems = {name: unpinned_reason(image_of(s)) for name, s in services.items()}
    problems = {name: why for name, why in problems.items() if why}
    assert not problems, f'images not pinned: {problems}'


def test_our_image_is_built_here_and_tagged_with_the_project_version(services):
    ours = services_where(services, lambda n, s: is_ours(s))
    expected = f'{OUR_IMAGE}:{project_version()}'
    for name, service in ours.items():
        assert image_of(service) == expected, f'{name}: image {image_of(service)!r}, expected {expected!r}'
        build = service.get('build')
        assert build is not None, f'{name}: no build section (docker compose would try to pull {expected})'
        context = build if isinstance(build, str) else build.get('context', '.')
        dockerfile = 'Dockerfile' if isinstance(build, str) else build.get('dockerfile', 'Dockerfile')
        assert (ROOT / context / dockerfile).resolve() == ROOT / 'Dockerfile'


def test_unpinned_references_are_caught():
    assert unpinned_reason('postgres') and unpinned_reason('postgres:latest')
    assert unpinned_reason('minio/minio') and unpinned_reason('postgres:16') and unpinned_reason('x:bookworm')
    assert unpinned_reason('postgres:${PG_TAG:-16.14}')
    assert unpinned_reason('registry.example.org:5000/minio/mc')                 # a port is not a tag
    assert not unpinned_reason('registry.example.org:5000/postgres:16.14-bookworm')
    assert not unpinned_reason('minio/minio:RELEASE.2025-04-22T22-12-26Z')
    assert not unpinned_reason('postgres@sha256:' + '0' * 64)


# --- topology ------------------------------------------------------------------------------------

def test_two_servers_with_their_own_state_and_ports(services):
    servers = kazarr_servers(services)
    assert len(servers) >= 2, f'two servers expected, found {sorted(servers)}'
    states, published = [], []
    for name, service in servers.items():
        env = environment(service)
        volumes = [str(v) for v in service.get('volumes') or []]
        state = [v.split(':')[0] for v in volumes if v.split(':')[1:2] == [env.get('KAZARR_STATE_DIR', '/state')]]
        assert state, f'{name}: no volume on its state directory'
        states.extend(state)
        ports = [str(p) for p in service.get('ports') or []]
        assert ports, f'{name}: not published'
        host_port = ports[0].split(':')[-2]
        container_port = ports[0].split(':')[-1]
        assert container_port == env.get('PORT', '5000')
        assert env.get('HOSTNAME') == '0.0.0.0', f'{name}: HOSTNAME=0.0.0.0 binds every interface of the container'
        public = urlsplit(env['PUBLIC_URL'])
        assert public.port == int(host_port), f'{name}: PUBLIC_URL {env["PUBLIC_URL"]} is not the published port'
        published.append(host_port)
    assert len(set(states)) == len(states), f'servers share a state volume: {states}'
    assert len(set(published)) == len(published)


def test_servers_read_from_minio_through_the_bucket_the_init_service_fills(services):
    minio = services_where(services, lambda n, s: repository(image_of(s)) == 'minio/minio')
    init = services_where(services, lambda n, s: repository(image_of(s)) == 'minio/mc')
    assert len(minio) == 1 and len(init) == 1
    (minio_name, minio_service), = minio.items()
    (init_name, init_service), = init.items()
    script = command_text(init_service)
    workers = dask_processes(services, 'worker')
    for name, service in {**kazarr_servers(services), **workers}.items():
        env = environment(service)
        endpoint = urlsplit(env.get('AWS_ENDPOINT_URL', ''))
        assert (endpoint.hostname, endpoint.port) == (minio_name, 9000), f'{name}: AWS_ENDPOINT_URL {endpoint}'
        assert env.get('AWS_ACCESS_KEY_ID') and env.get('AWS_SECRET_ACCESS_KEY'), f'{name}: no S3 credentials'
        # the init service creates exactly these credentials (or they are MinIO's root ones)
        root = environment(minio_service)
        assert (f'{env["AWS_ACCESS_KEY_ID"]}" "{env["AWS_SECRET_ACCESS_KEY"]}' in script
                or (env['AWS_ACCESS_KEY_ID'], env['AWS_SECRET_ACCESS_KEY'])
                == (root['MINIO_ROOT_USER'], root['MINIO_ROOT_PASSWORD'])), f'{name}: S3 user not created'
        assert (service.get('depends_on') or {}).get(init_name, {}).get('condition') \
            == 'service_completed_successfully', f'{name}: must wait for {init_name}'
    for name, service in kazarr_servers(services).items():
        env = environment(service)
        bucket, prefix = env.get('BUCKET_NAME'), env.get('DATASETS_PATH', '').strip('/')
        assert bucket and prefix, f'{name}: BUCKET_NAME and DATASETS_PATH (the prefix) are both needed'
        assert f'mc mb --ignore-existing local/{bucket}' in script
        assert re.search(rf'mc mirror .* \w+/{bucket}/{prefix}\b', script), \
            f'{init_name} does not upload the demo stores to s3://{bucket}/{prefix}'
        assert env.get('RESULTS_URL', '').startswith(f's3://{bucket}/'), f'{name}: RESULTS_URL in the bucket'
        assert not env['RESULTS_URL'].rstrip('/').endswith(f'/{prefix}'), 'results would be discovered as data'
    # the demo stores come from our image, through a volume the init service reads
    makers = services_where(services, lambda n, s: is_ours(s) and 'demo-data' in command_text(s))
    assert len(makers) == 1
    (maker_name, maker), = makers.items()
    assert init_service['depends_on'][maker_name]['condition'] == 'service_completed_successfully'
    target = command_text(maker).split()[-1]
    shared = {v.split(':')[0] for v in maker['volumes'] if v.split(':')[1] == target}
    assert shared & {v.split(':')[0] for v in init_service['volumes']}, 'demo-data and mc share no volume'
    assert minio_name in init_service['depends_on']


def test_servers_keep_jobs_in_postgres_and_run_them_on_dask(services):
    postgres = services_where(services, lambda n, s: repository(image_of(s)) == 'postgres')
    schedulers = dask_processes(services, 'scheduler')
    workers = dask_processes(services, 'worker')
    assert len(postgres) == 1 and len(schedulers) == 1 and len(workers) >= 2, (postgres, schedulers, workers)
    (pg_name, pg), = postgres.items()
    (scheduler_name, scheduler), = schedulers.items()
    pg_env = environment(pg)
    port = re.search(r'--port\s+(\d+)', command_text(scheduler))
    scheduler_address = f'tcp://{scheduler_name}:{port.group(1) if port else 8786}'
    for name, service in kazarr_servers(services).items():
        env = environment(service)
        url = urlsplit(env.get('JOBS_DATABASE_URL', ''))
        assert url.scheme in ('postgresql', 'postgres'), f'{name}: JOBS_DATABASE_URL {url.geturl()}'
        assert (url.hostname, url.username, url.password, url.path.lstrip('/')) == \
            (pg_name, pg_env['POSTGRES_USER'], pg_env['POSTGRES_PASSWORD'], pg_env['POSTGRES_DB'])
        assert env.get('DASK_SCHEDULER_ADDRESS') == scheduler_address, f'{name}: DASK_SCHEDULER_ADDRESS'
        depends = service.get('depends_on') or {}
        assert depends.get(pg_name, {}).get('condition') == 'service_healthy'
        assert depends.get(scheduler_name, {}).get('condition') == 'service_healthy'
    for name, service in workers.items():
        assert scheduler_address in command_text(service), f'{name} does not join {scheduler_address}'
        assert image_of(service).startswith(f'{OUR_IMAGE}:'), f'{name} must have kazarr_provider installed'
        assert service['depends_on'][scheduler_name]['condition'] == 'service_healthy'


def test_long_running_services_have_healthchecks(services):
    for name, service in services.items():
        if service.get('restart') == 'no':                     # one-shot
            continue
        check = service.get('healthcheck')
        if is_ours(service) and 'entrypoint' not in service:
            assert check is None, f'{name}: the image\'s HEALTHCHECK (GET /health) applies'
            continue
        assert check and check.get('test') and not check.get('disable'), f'{name}: no healthcheck'
