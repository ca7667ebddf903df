"""OGC API – Processes 1.0 views, replacing pygeoapi's (which answers async with a null body, matches
`Prefer` as one exact string, never shows a job running and keeps results on the worker that ran them).

Jobs live in the job store (SQLite under the state directory, or PostgreSQL) and run outside the web
worker (a bounded process pool, or Dask); any server sharing the store follows and fetches them. Errors
here are RFC 7807 problem details with the OGC exception types.
"""
from __future__ import annotations

import functools
import threading
import uuid

from flask import Response, request

from ..api.processes import documents, execution, tasks
from ..errors import InvalidParameter, KazarrError, status_of
from ..jobs import executor as job_executor
from ..jobs.reaper import start_reaper
from ..jobs.settings import JobSettings
from ..jobs.backends import open_store
from ..jobs.store import STATUSES, JobRecord, error_info
from . import pages
from .http import json_response

PROCESSES_ENDPOINT = 'pygeoapi.get_processes'
EXECUTE_ENDPOINT = 'pygeoapi.execute_process_jobs'
JOBS_ENDPOINT = 'pygeoapi.get_jobs'
RESULTS_ENDPOINT = 'pygeoapi.get_job_result'
PROBLEM = 'application/problem+json'


class Jobs:
    """This process's job store, results store and reaper, opened at first use (after the fork)."""

    def __init__(self, state_dir: str):
        self.settings = JobSettings.from_env(state_dir=state_dir)
        self._store = None
        self._lock = threading.Lock()

    @property
    def store(self):
        with self._lock:
            if self._store is None:
                self._store = open_store(self.settings)
                start_reaper(self._store, settings=self.settings)
            return self._store


def problems(view):
    """Our errors as problem details (the three OGC exception types where they apply)."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except KazarrError as error:
            status = status_of(error)
            return json_response(status, documents.problem(error, status), content_type=PROBLEM)
    return wrapped


def install_processes(app, state, settings, prefix: str):
    jobs = Jobs(settings.state_dir)
    original = {name: app.view_functions[name] for name in (PROCESSES_ENDPOINT, EXECUTE_ENDPOINT, JOBS_ENDPOINT,
                                                            RESULTS_ENDPOINT)}
    base = settings.public_url

    def collections() -> list[str]:
        return sorted(state.current.ours)

    @problems
    def processes_view(process_id=None):
        if process_id is None:
            return _page_or_json(documents.process_list(base), pages.processes_page)
        if process_id not in documents.PROCESSES and process_id in state.current.config['resources']:
            return original[PROCESSES_ENDPOINT](process_id)
        return _page_or_json(documents.description(documents.process_of(process_id), base, collections()),
                             pages.process_page)

    def _page_or_json(document, page, *extra):
        """JSON, or the page of it for a browser (f=html, or Accept ranking text/html above JSON)."""
        if request.method == 'GET' and pages.prefers_html():
            return page(state.current, document, *extra)
        return json_response(200, document)

    @problems
    def execute_view(process_id):
        if process_id not in documents.PROCESSES and process_id in state.current.config['resources']:
            return original[EXECUTE_ENDPOINT](process_id)
        process = documents.process_of(process_id)
        body = request.get_json(silent=True)
        if body is None:
            raise InvalidParameter('body: expected a JSON execute request {"inputs": {...}} '
                                   '(Content-Type: application/json)', 'body')
        run = execution.parse_execution(process, body, request.headers.get('Prefer'), collections())
        snapshot = state.current
        ident = run.inputs['collection']
        if run.asynchronous:
            return _submit(run, snapshot.ours[ident], settings.max_async_values)
        outputs = execution.run(run, snapshot.dataset(ident), snapshot.max_values(ident), settings.max_async_values)
        if 'reference' in run.transmission.values():
            record = _stored(run, outputs)
            return _answer(execution.answer(outputs, run.options(), _link(record.job_id)))
        return _answer(execution.answer(outputs, run.options(), _link('')))

    def _submit(run, location, limit):
        job_id = uuid.uuid4().hex
        record = jobs.store.create(JobRecord(job_id, run.process.id, inputs=dict(run.inputs),
                                             options=run.options(), message='queued'))
        spec = job_executor.task_spec(tasks.FUNCTION, tasks.task_args(run, location, limit))
        try:
            job_executor.submit(job_id, spec, jobs.settings)
        except job_executor.ExecutorUnavailable as error:
            jobs.store.finish(job_id, 'failed', error=error_info(503, 'No executor', str(error),
                                                                'ServiceUnavailable'))
            record = jobs.store.get(job_id)
        return json_response(201, documents.status_info(record, base),
                             headers={'Location': f'{base}/jobs/{job_id}', 'Preference-Applied': 'respond-async'})

    def _stored(run, outputs) -> JobRecord:
        """A synchronous run whose outputs go by reference: kept as a finished job to link to."""
        job_id = uuid.uuid4().hex
        jobs.store.create(JobRecord(job_id, run.process.id, inputs=dict(run.inputs), options=run.options()))
        jobs.store.mark_running(job_id, 'sync')
        results = jobs.store.results
        stored = {name: {'media_type': media, 'key': results.put(job_id, name, body)}
                  for name, (media, body) in outputs.items()}
        jobs.store.finish(job_id, 'successful', result=stored)
        return jobs.store.get(job_id)

    def _link(job_id):
        return lambda name: f'{base}/jobs/{job_id}/results/{name}'

    @problems
    def jobs_view(job_id=None):
        if job_id is None:
            return _page_or_json(_job_list(), pages.jobs_page)
        record = _record(job_id)
        if request.method == 'DELETE':
            record = jobs.store.dismiss(job_id) or record
            return json_response(200, documents.status_info(record, base))
        return _page_or_json(documents.status_info(record, base), pages.job_page, record)

    def _record(job_id) -> JobRecord:
        try:
            record = jobs.store.get(job_id)
        except ValueError:
            record = None
        if record is None:
            raise documents.NoSuchJob(f'no job {job_id!r} (unknown, expired or removed)', 'jobId')
        return record

    def _job_list():
        args = request.args
        filters = {}
        for name, key in (('processID', 'process_id'), ('status', 'status'), ('type', 'type')):
            values = [v for v in args.getlist(name) for v in v.split(',') if v]
            if values:
                filters[key] = values
        bad = [s for s in filters.get('status', []) if s not in STATUSES]
        if bad:
            raise InvalidParameter(f'status: unknown {bad[0]!r}; expected some of {", ".join(STATUSES)}', 'status')
        for name, key in (('minDuration', 'min_duration'), ('maxDuration', 'max_duration'), ('limit', 'limit')):
            if args.get(name):
                try:
                    filters[key] = int(args[name])
                    if filters[key] < 0 or (name == 'limit' and not 1 <= filters[key] <= 10000):
                        raise ValueError
                except ValueError:
                    raise InvalidParameter(f'{name}: expected a non-negative integer'
                                           f'{" from 1 to 10000" if name == "limit" else " (seconds)"}',
                                           name) from None
        if args.get('datetime'):
            filters['datetime'] = _interval(args['datetime'])
        filters.setdefault('limit', 100)
        records = jobs.store.list(**filters)
        return {'jobs': [documents.status_info(r, base) for r in records],
                'links': [{'href': f'{base}/jobs', 'rel': 'self', 'type': 'application/json'}]}

    @problems
    def results_view(job_id, output_id=None):
        record = _record(job_id)
        if record.status in ('accepted', 'running'):
            raise documents.ResultNotReady(f'job {job_id} is {record.status}; its results are not ready', 'jobId')
        if record.status == 'dismissed':
            raise documents.NoSuchJob(f'job {job_id} was dismissed; it has no results', 'jobId')
        if record.status == 'failed':
            problem = documents.failed_problem(record.error or {})
            return json_response(problem['status'], problem, content_type=PROBLEM)
        results = jobs.store.results
        stored = record.result or {}
        if output_id is not None:
            if output_id not in stored:
                raise documents.NoSuchJob(f'job {job_id} has no output {output_id!r}', 'outputId')
            item = stored[output_id]
            return Response(results.open(item['key']), status=200, content_type=item['media_type'])
        outputs = {name: (item['media_type'], results.read(item['key'])) for name, item in stored.items()}
        return _answer(execution.answer(outputs, record.options or {}, _link(job_id)))

    app.view_functions[PROCESSES_ENDPOINT] = processes_view
    app.view_functions[EXECUTE_ENDPOINT] = execute_view
    app.view_functions[JOBS_ENDPOINT] = jobs_view
    app.view_functions[RESULTS_ENDPOINT] = results_view
    app.add_url_rule(f'{prefix}/jobs/<job_id>/results/<output_id>', 'kazarr.job_output', results_view,
                     methods=['GET'])
    return jobs


def _answer(answer) -> Response:
    status, headers, body = answer
    media = headers.pop('Content-Type', None)
    return Response(body if status != 204 else b'', status=status, content_type=media, headers=headers)


def _interval(text: str):
    """datetime filter: an instant or start/end with .. open ends (RFC 3339)."""
    import datetime as dt

    def instant(value):
        if value in ('', '..'):
            return None
        try:
            parsed = dt.datetime.fromisoformat(value.replace('Z', '+00:00'))
        except ValueError:
            raise InvalidParameter(f'datetime: {value!r} is not an RFC 3339 instant', 'datetime') from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)

    if '/' in text:
        start, _, end = text.partition('/')
        return instant(start), instant(end)
    return instant(text)
