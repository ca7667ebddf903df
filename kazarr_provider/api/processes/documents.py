"""The JSON documents of OGC API – Processes 1.0: process list and descriptions, statusInfo, job lists,
problem details (RFC 7807 with the OGC exception types)."""
from __future__ import annotations


from ...errors import KazarrError, NotFound
from .definitions import PROCESSES, Process

CONFORMANCE = [f'http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/{name}'
               for name in ('core', 'ogc-process-description', 'json', 'oas30', 'job-list', 'dismiss')]
EXCEPTION = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/'
CONTROL = ['sync-execute', 'async-execute', 'dismiss']
TRANSMISSION = ['value', 'reference']


class NoSuchProcess(NotFound):
    problem = 'no-such-process'


class NoSuchJob(NotFound):
    problem = 'no-such-job'


class ResultNotReady(NotFound):
    problem = 'result-not-ready'


def process_of(process_id: str) -> Process:
    process = PROCESSES.get(process_id)
    if process is None:
        raise NoSuchProcess(f'no process {process_id!r}; this server offers {", ".join(PROCESSES)}', 'processID')
    return process


def summary(process: Process, base: str) -> dict:
    return {'id': process.id, 'title': process.title, 'description': process.description,
            'version': process.version, 'jobControlOptions': CONTROL, 'outputTransmission': TRANSMISSION,
            'links': [{'href': f'{base}/processes/{process.id}', 'rel': 'self', 'type': 'application/json',
                       'title': 'process description'},
                      {'href': f'{base}/processes/{process.id}/execution',
                       'rel': 'http://www.opengis.net/def/rel/ogc/1.0/execute', 'type': 'application/json',
                       'title': 'execute'}]}


def process_list(base: str) -> dict:
    return {'processes': [summary(p, base) for p in PROCESSES.values()],
            'links': [{'href': f'{base}/processes', 'rel': 'self', 'type': 'application/json'}]}


def description(process: Process, base: str, collections: list[str]) -> dict:
    """The description, with the collection input's enum the current snapshot's gridded collections."""
    inputs = {}
    for name, spec in process.inputs.items():
        document = spec.document()
        if name == 'collection':
            document['schema'] = dict(document['schema'], enum=collections)
        inputs[name] = document
    return {**summary(process, base), 'inputs': inputs,
            'outputs': {name: output.document() for name, output in process.outputs.items()},
            'example': {'inputs': dict(process.example)}}


def _time(value) -> str | None:
    return value.strftime('%Y-%m-%dT%H:%M:%S.%fZ') if value is not None else None


def status_info(record, base: str) -> dict:
    links = [{'href': f'{base}/jobs/{record.job_id}', 'rel': 'self', 'type': 'application/json',
              'title': 'status'}]
    if record.status == 'successful':
        links.append({'href': f'{base}/jobs/{record.job_id}/results',
                      'rel': 'http://www.opengis.net/def/rel/ogc/1.0/results', 'title': 'results'})
    info = {'jobID': record.job_id, 'type': 'process', 'processID': record.process_id, 'status': record.status,
            'message': record.message or (record.error or {}).get('detail') or record.status,
            'created': _time(record.created), 'started': _time(record.started),
            'finished': _time(record.finished), 'updated': _time(record.updated),
            'progress': int(record.progress), 'links': links}
    return {k: v for k, v in info.items() if v is not None}


def problem(error: KazarrError, status: int) -> dict:
    """RFC 7807 details; the OGC type for the three 1.0 exceptions, the parameter or input at fault."""
    kind = getattr(error, 'problem', None)
    body = {'type': EXCEPTION + kind if kind else f'about:blank#{error.code}', 'title': error.code,
            'status': status, 'detail': error.description}
    if error.parameter:
        body['parameter'] = error.parameter
    return body


def failed_problem(error: dict) -> dict:
    """A failed job's results: the failure's own status and reason."""
    return {'type': f'about:blank#{error.get("type", "NoApplicableCode")}', 'title': error.get('title', 'failed'),
            'status': int(error.get('status', 500)), 'detail': error.get('detail', 'the job failed')}


