"""Asynchronous jobs (OGC API - Processes): records, results, executors and the reaper, without HTTP.

    store = open_store(settings)                 # once per process
    start_reaper(store, settings=settings)       # once per process, at start
    store.create(JobRecord(job_id, process_id, inputs=..., options=...))
    submit(job_id, task_spec('package.module:function', args), settings)
    store.get(job_id); store.list(...); store.dismiss(job_id)
    store.results.open(record.result[output_id]['key'])
"""
from .executor import Dismissed, ExecutorUnavailable, describe_error, run_job, shutdown, submit, task_spec
from .reaper import start_reaper
from .results import ResultStore, ResultStream, open_results
from .settings import JobSettings
from .backends import open_store
from .store import FINISHED, STATUSES, JobRecord, JobStore, error_info

__all__ = ['Dismissed', 'ExecutorUnavailable', 'FINISHED', 'JobRecord', 'JobSettings', 'JobStore', 'ResultStore',
           'ResultStream', 'STATUSES', 'describe_error', 'error_info', 'open_results', 'open_store', 'run_job',
           'shutdown', 'start_reaper', 'submit', 'task_spec']
