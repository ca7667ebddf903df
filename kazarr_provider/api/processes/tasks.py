"""What a job runs, in whichever process takes it (the local pool, a Dask worker): the dataset reopened
from its location, the process run with the job's inputs, the outputs asked returned for storing."""
from __future__ import annotations

from ...data.catalogue import get_dataset
from ...data.storage import parse_location, reading
from .definitions import PROCESSES

FUNCTION = 'kazarr_provider.api.processes.tasks:run_process'


def task_args(execution, location, limit: int) -> dict:
    """JSON-able: what `run_process` needs, nothing of the web worker that accepted the job."""
    return {'process': execution.process.id, 'inputs': dict(execution.inputs), 'formats': dict(execution.formats),
            'location': str(location), 'limit': int(limit)}


def run_process(args: dict, progress) -> dict:
    process = PROCESSES[args['process']]
    progress(1, 'opening the dataset')
    opened = get_dataset(parse_location(args['location']))
    with reading(opened.location):
        outputs = process.run(opened, args['inputs'], args['formats'], args['limit'], progress)
    progress(95, 'storing the results')
    return {name: outputs[name] for name in args['formats']}
