"""The OpenAPI operations of the Processes API, generated from the process registry (pygeoapi's own
describe `Prefer` as exactly `respond-async` and leave the execute body undescribed)."""
from __future__ import annotations

from .definitions import PROCESSES, Process

PROBLEM = {'type': 'object', 'required': ['title', 'status'], 'properties': {
    'type': {'type': 'string'}, 'title': {'type': 'string'}, 'status': {'type': 'integer'},
    'detail': {'type': 'string'}, 'parameter': {'type': 'string', 'description': 'the input or parameter at fault'}}}
STATUS_INFO = {'type': 'object', 'required': ['jobID', 'status', 'type'], 'properties': {
    'jobID': {'type': 'string'}, 'type': {'type': 'string', 'enum': ['process']}, 'processID': {'type': 'string'},
    'status': {'type': 'string', 'enum': ['accepted', 'running', 'successful', 'failed', 'dismissed']},
    'message': {'type': 'string'}, 'progress': {'type': 'integer', 'minimum': 0, 'maximum': 100},
    'created': {'type': 'string', 'format': 'date-time'}, 'started': {'type': 'string', 'format': 'date-time'},
    'finished': {'type': 'string', 'format': 'date-time'}, 'updated': {'type': 'string', 'format': 'date-time'},
    'links': {'type': 'array', 'items': {'type': 'object'}}}}
_TEXT = {'400': 'Invalid input (named in `parameter`)', '404': 'No such process or job, or results not ready',
         '413': 'Over the synchronous (or asynchronous) size limit, which the detail states',
         '500': 'Internal error (logged; never described further)', '503': 'Storage or executor unavailable'}
_JSON = {'application/json': {'schema': {'type': 'object'}}}


def _problems(*codes: str) -> dict:
    return {code: {'description': _TEXT[code], 'content': {'application/problem+json': {'schema': PROBLEM}}}
            for code in codes}


def _execute_body(process: Process) -> dict:
    required = [name for name, spec in process.inputs.items() if spec.required]
    return {'type': 'object', 'required': ['inputs'], 'properties': {
        'inputs': {'type': 'object', 'required': required, 'additionalProperties': False,
                   'properties': {name: dict(spec.schema) for name, spec in process.inputs.items()}},
        'outputs': {'type': 'object', 'properties': {name: {'type': 'object', 'properties': {
            'format': {'type': 'object', 'properties': {'mediaType': {'type': 'string',
                                                                      'enum': list(output.media_types)}}},
            'transmissionMode': {'type': 'string', 'enum': ['value', 'reference']}}}
            for name, output in process.outputs.items()}},
        'response': {'type': 'string', 'enum': ['raw', 'document'], 'default': 'raw'}}}


def process_operations() -> dict:
    """Every /processes and /jobs path this server answers."""
    job_id = {'name': 'jobId', 'in': 'path', 'required': True, 'schema': {'type': 'string'}}
    paths = {'/processes': {'get': {'summary': 'Processes offered', 'operationId': 'getProcesses',
                                    'tags': ['processes'], 'responses': {'200': {'description': 'the list',
                                                                                 'content': _JSON}}}}}
    for process in PROCESSES.values():
        outputs = {media: {'schema': {'type': 'object' if 'json' in media else 'string'}}
                   for output in process.outputs.values() for media in output.media_types}
        paths[f'/processes/{process.id}'] = {'get': {
            'summary': f'Description of {process.id}', 'operationId': f'describe-{process.id}', 'tags': ['processes'],
            'responses': {'200': {'description': 'inputs and outputs as JSON Schema', 'content': _JSON},
                          **_problems('404')}}}
        paths[f'/processes/{process.id}/execution'] = {'post': {
            'summary': process.title, 'description': process.description, 'operationId': f'execute-{process.id}',
            'tags': ['processes'],
            'parameters': [{'name': 'Prefer', 'in': 'header', 'required': False, 'schema': {'type': 'string'},
                            'description': 'RFC 7240; respond-async (with other preferences too) runs a job'}],
            'requestBody': {'required': True, 'content': {'application/json': {
                'schema': _execute_body(process), 'example': {'inputs': dict(process.example)}}}},
            'responses': {'200': {'description': 'the output (raw), or the outputs keyed by id (document)',
                                  'content': {**outputs, 'application/json': {'schema': {'type': 'object'}}}},
                          '201': {'description': 'a job was created (Location: /jobs/{jobId})', 'content': {
                              'application/json': {'schema': STATUS_INFO}}},
                          '204': {'description': 'outputs by reference (Link headers)'},
                          **_problems('400', '404', '413', '500', '503')}}}
    paths['/jobs'] = {'get': {'summary': 'Jobs', 'operationId': 'getJobs', 'tags': ['jobs'], 'parameters': [
        {'name': name, 'in': 'query', 'required': False, 'schema': schema} for name, schema in (
            ('processID', {'type': 'string'}), ('status', {'type': 'string'}), ('type', {'type': 'string'}),
            ('datetime', {'type': 'string'}), ('minDuration', {'type': 'integer', 'minimum': 0}),
            ('maxDuration', {'type': 'integer', 'minimum': 0}),
            ('limit', {'type': 'integer', 'minimum': 1, 'maximum': 10000}))],
        'responses': {'200': {'description': '{jobs: [statusInfo], links}', 'content': _JSON},
                      **_problems('400')}}}
    paths['/jobs/{jobId}'] = {
        'get': {'summary': 'Status of a job', 'operationId': 'getJob', 'tags': ['jobs'], 'parameters': [job_id],
                'responses': {'200': {'description': 'statusInfo', 'content': {
                    'application/json': {'schema': STATUS_INFO}}}, **_problems('404')}},
        'delete': {'summary': 'Dismiss a job (stops it, removes its results)', 'operationId': 'dismissJob',
                   'tags': ['jobs'], 'parameters': [job_id],
                   'responses': {'200': {'description': 'statusInfo (dismissed)', 'content': {
                       'application/json': {'schema': STATUS_INFO}}}, **_problems('404')}}}
    paths['/jobs/{jobId}/results'] = {'get': {
        'summary': 'Results of a job', 'operationId': 'getJobResults', 'tags': ['jobs'], 'parameters': [job_id],
        'responses': {'200': {'description': 'as the execute request asked (raw or document)',
                              'content': {'application/json': {'schema': {'type': 'object'}}}},
                      **_problems('404', '500')}}}
    paths['/jobs/{jobId}/results/{outputId}'] = {'get': {
        'summary': 'One stored output of a job', 'operationId': 'getJobOutput', 'tags': ['jobs'],
        'parameters': [job_id, {'name': 'outputId', 'in': 'path', 'required': True, 'schema': {'type': 'string'}}],
        'responses': {'200': {'description': 'the output in its media type'}, **_problems('404')}}}
    return paths
