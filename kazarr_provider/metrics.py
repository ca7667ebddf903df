"""Prometheus metrics of this server (no web framework here: the data layer counts into these too).

Under `kazarr-provider serve` each gunicorn worker is its own process, so the counters are kept with
prometheus-client's multiprocess mode: `serve` points PROMETHEUS_MULTIPROC_DIR at a directory emptied at
start before gunicorn forks (`cli.prepare_metrics_dir`), every process writes its values to files there,
`/metrics` sums the files of all workers (`exposition`), and the gunicorn master forgets the live gauges of
a worker that exits (`mark_worker_dead`). A counter of a worker that exited keeps counting in the sums: a
restarted worker never makes a total go down. Without PROMETHEUS_MULTIPROC_DIR (the app run in one process)
the values live in memory.

PROMETHEUS_MULTIPROC_DIR must be set before prometheus_client is first imported: `serve` does so first.

What is exported:

    kazarr_http_requests_total{method, route, status}     requests answered, by URL rule (not raw path)
    kazarr_http_request_duration_seconds{method, route}   histogram, from the request's arrival to its
                                                          last byte handed to the server
    kazarr_http_requests_in_progress                      requests being answered now (all workers)
    kazarr_s3_get_requests_total                          GETs sent to S3 for zarr objects (304s included)
    kazarr_s3_get_bytes_total                             bytes those GETs returned
    kazarr_disk_cache_hits_total                          object reads answered from the disk cache (CACHE_DIR)
    kazarr_disk_cache_misses_total                        object reads the disk cache could not answer
    kazarr_jobs{status}                                   jobs in the job store by status, counted at scrape
"""
from __future__ import annotations

import logging
import os

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily

LOGGER = logging.getLogger(__name__)
MULTIPROC_ENV = 'PROMETHEUS_MULTIPROC_DIR'

disable_created_metrics()       # no `_created` series: the same output in one process and across workers

# requests seen by the application; `route` is the URL rule ('/collections/<path:collection_id>/position'),
# so the number of series stays bounded whatever paths clients send
HTTP_REQUESTS = Counter('kazarr_http_requests', 'HTTP requests answered, by method, URL rule and status',
                        ['method', 'route', 'status'])
HTTP_DURATION = Histogram('kazarr_http_request_duration_seconds',
                          'Time from the arrival of a request to the end of its answer, by method and URL rule',
                          ['method', 'route'],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
HTTP_IN_PROGRESS = Gauge('kazarr_http_requests_in_progress', 'HTTP requests being answered now',
                         multiprocess_mode='livesum')

S3_GET_REQUESTS = Counter('kazarr_s3_get_requests', 'GET requests sent to S3 for zarr objects (304 included)')
S3_GET_BYTES = Counter('kazarr_s3_get_bytes', 'Bytes returned by GET requests to S3 for zarr objects')

DISK_CACHE_HITS = Counter('kazarr_disk_cache_hits', 'Object reads answered from the disk cache')
DISK_CACHE_MISSES = Counter('kazarr_disk_cache_misses', 'Object reads the disk cache could not answer')

METHODS = frozenset(('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT'))
UNMATCHED = 'unmatched'         # the route of a request no URL rule matched (404, 405)


def method_label(method: str) -> str:
    """The method, or 'other' for a made-up one (clients choose it: it must not grow the series)."""
    return method if method in METHODS else 'other'


def observe_request(method: str, route: str | None, status: int, seconds: float):
    method, route = method_label(method), route or UNMATCHED
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_DURATION.labels(method, route).observe(seconds)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def mark_worker_dead(pid: int):
    """A worker exited: its live gauges (requests in progress) no longer count; its counters still do."""
    if multiprocess():
        from prometheus_client import multiprocess as mp
        mp.mark_process_dead(pid)


class JobsCollector:
    """`kazarr_jobs{status}` read from the job store when /metrics is scraped (the store is shared by every
    worker, and by every server sharing JOBS_DATABASE_URL: sum it over one server only)."""

    def __init__(self, count, statuses):
        self.count, self.statuses = count, statuses

    def describe(self):
        return [GaugeMetricFamily('kazarr_jobs', 'Jobs in the job store, by status', labels=['status'])]

    def collect(self):
        family = GaugeMetricFamily('kazarr_jobs', 'Jobs in the job store, by status', labels=['status'])
        try:
            for status in self.statuses:
                family.add_metric([status], self.count(status))
        except Exception as error:         # the store is down: the other metrics are still worth having
            LOGGER.warning('metrics: cannot count jobs (%s)', type(error).__name__)
            return
        yield family


class _Collectors:
    def __init__(self, collectors):
        self.collectors = collectors

    def collect(self):
        for collector in self.collectors:
            yield from collector.collect()


def exposition(extra=()) -> bytes:
    """The Prometheus text of every worker's metrics (or this process's), then `extra` collectors'."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
    if multiprocess():
        from prometheus_client.multiprocess import MultiProcessCollector
        base = CollectorRegistry()
        MultiProcessCollector(base)
    else:
        base = REGISTRY
    return generate_latest(_Collectors([base, *extra]))
