# syntax=docker/dockerfile:1
# kazarr_provider: OGC API (EDR, Coverages, Processes) over GeoZarr, served by gunicorn.
#
#   docker build -t kazarr-provider:0.1.0 .
#   docker run -p 127.0.0.1:5000:5000 -v /path/to/zarrs:/data:ro kazarr-provider:0.1.0
#
# Configuration only through the environment variables of README.md ("Environment variables"):
# DATASETS_PATH (a directory, or a prefix in BUCKET_NAME), AWS_*, JOBS_DATABASE_URL, RESULTS_URL,
# DASK_SCHEDULER_ADDRESS, PUBLIC_URL, ... The same image runs the Dask scheduler and workers
# (`--entrypoint dask` with `scheduler` / `worker tcp://...`): the workers run our job tasks, so
# they need this package. docker-compose.yml wires all of it.

# --- builder: wheels of the project and of its pinned dependencies (setup.cfg install_requires) ----
FROM python:3.11.15-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src

# Dependencies first, from setup.cfg alone: this layer (about 160 MB of wheels) is rebuilt only when
# setup.cfg changes, not on every change of the code. Every pinned dependency ships a manylinux wheel
# for CPython 3.11, so no compiler is needed here either (`pip wheel` would build an sdist if one
# appeared; add build-essential to this stage, never to the runtime one, if that ever happens).
COPY setup.cfg pyproject.toml ./
RUN python -c "import configparser; c = configparser.ConfigParser(); c.read('setup.cfg'); print(c['options']['install_requires'])" \
        > requirements.txt \
    && pip wheel --requirement requirements.txt --wheel-dir /wheels

# Then the project itself (setup.cfg reads README.md as its long description).
COPY README.md ./
COPY kazarr_provider ./kazarr_provider
RUN pip wheel --no-deps . --wheel-dir /wheels

# --- runtime: the same slim base, only the wheels, no compilers, no build files ------------------
FROM python:3.11.15-slim-bookworm AS runtime

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONUNBUFFERED=1

# --no-index: everything comes from the builder's wheels, so a dependency missing there fails the
# build instead of being fetched unpinned. The wheels are bind-mounted, never copied into a layer.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels /wheels/kazarr_provider-*.whl \
    && groupadd --system --gid 10001 kazarr \
    && useradd --system --uid 10001 --gid kazarr --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin kazarr \
    && mkdir -p /data /state \
    && chown kazarr:kazarr /data /state

WORKDIR /app
# the base pygeoapi configuration (KAZARR_CONFIG); read-only for the server user
COPY pygeoapi-config.yml ./

# HOSTNAME: the bind address when it is an IP address (settings.py; Docker sets HOSTNAME to the
# container id, which the server would ignore and bind 127.0.0.1, unreachable from outside the
# container). An image ENV takes precedence over the container id.
# DATASETS_PATH=/data: a mounted directory; with BUCKET_NAME set, give DATASETS_PATH the key prefix.
# KAZARR_STATE_DIR=/state: generated configuration and OpenAPI document, and (without
# JOBS_DATABASE_URL / RESULTS_URL) the SQLite job store and the job results.
ENV HOSTNAME=0.0.0.0 \
    PORT=5000 \
    DATASETS_PATH=/data \
    KAZARR_STATE_DIR=/state \
    KAZARR_CONFIG=/app/pygeoapi-config.yml

VOLUME ["/data", "/state"]

# numeric: resolvable by the host and by orchestrators that check runAsNonRoot
USER 10001:10001

EXPOSE 5000

# no curl in the slim image: Python's urllib. An error status, a refused connection or no answer within
# 4 s raises, and python exits 1: unhealthy. (Loopback: with HOSTNAME set to one other address, override it.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '5000'), timeout=4)"]

# gunicorn, run by the CLI itself (WORKERS, THREADS, WORKER_TIMEOUT, READ_TIMEOUT); arguments given to
# `docker run` are appended (`--workers 4`, `--access-log`).
ENTRYPOINT ["kazarr-provider", "serve"]
