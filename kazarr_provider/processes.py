"""The processes as pygeoapi processors, named by dotted path in a configuration
(`processor: {name: kazarr_provider.processes.IsolinesProcessor}`), so a stock pygeoapi loads them too.

kazarr_provider's own server answers /processes and /jobs with its own views (OGC API – Processes 1.0
as written, jobs outside the web worker); these classes give pygeoapi its process metadata and, under a
stock pygeoapi, run the same computation synchronously. The collection is found under the processor's
`data` (a directory or s3:// prefix of Zarr stores) or DATASETS_PATH / BUCKET_NAME.
"""
from __future__ import annotations

import copy


from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from .api.processes.definitions import PROCESSES
from .api.processes.documents import description
from .api.processes.execution import parse_execution, run
from .data.catalogue import discover, get_dataset
from .data.storage import parse_location
from .errors import KazarrError
from .settings import Settings


def _metadata(process_id: str) -> dict:
    document = description(PROCESSES[process_id], '', [])
    document.pop('links', None)
    document['inputs'] = {name: {**spec, 'schema': {k: v for k, v in spec['schema'].items() if k != 'enum'}
                                 if name == 'collection' else spec['schema']}
                          for name, spec in document['inputs'].items()}
    return document


class _KazarrProcessor(BaseProcessor):
    process_id = ''

    def __init__(self, processor_def: dict):
        super().__init__(processor_def, copy.deepcopy(_metadata(self.process_id)))
        self.data = processor_def.get('data')

    def execute(self, data: dict, outputs=None):
        settings = Settings.from_env()
        root = self.data or settings.datasets_path
        stores = discover(parse_location(root, settings.bucket if not self.data else None)) if root else {}
        try:
            execution = parse_execution(PROCESSES[self.process_id], {'inputs': data, 'outputs': outputs or None},
                                        None, sorted(stores))
            location, signature = stores[execution.inputs['collection']]
            outputs = run(execution, get_dataset(location, signature), settings.max_values)
        except KazarrError as error:
            raise ProcessorExecuteError(error.description) from None
        (media, body), = outputs.values()
        return media, body


class IsolinesProcessor(_KazarrProcessor):
    process_id = 'isolines'


class IsobandsProcessor(_KazarrProcessor):
    process_id = 'isobands'


class MeshProcessor(_KazarrProcessor):
    process_id = 'mesh'


class RegridProcessor(_KazarrProcessor):
    process_id = 'regrid'


PROCESSORS = {cls.process_id: f'{__name__}.{cls.__name__}'
              for cls in (IsolinesProcessor, IsobandsProcessor, MeshProcessor, RegridProcessor)}
