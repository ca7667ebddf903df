"""pygeoapi EDR provider: a thin adapter from pygeoapi's kwargs to our service.

pygeoapi instantiates this class on every request (and for every collection
on /collections), so `__init__` only looks up the dataset opened once per
process by the catalogue.
"""
from __future__ import annotations

import logging

import orjson
import shapely

from pygeoapi.provider.base import (ProviderConnectionError, ProviderGenericError, ProviderInvalidQueryError,
                                    ProviderItemNotFoundError, ProviderNoDataError,
                                    ProviderRequestEntityTooLargeError)
from pygeoapi.provider.base_edr import BaseEDRProvider

from ...data.catalogue import get_dataset
from ...errors import KazarrError, status_of
from ...formats import to_covjson
from ..service import coverage_document
from ...settings import Settings

LOGGER = logging.getLogger(__name__)

# our status table (errors.STATUS) expressed as pygeoapi's exception classes
PYGEOAPI_ERRORS = {400: ProviderInvalidQueryError, 404: ProviderItemNotFoundError, 204: ProviderNoDataError,
                   413: ProviderRequestEntityTooLargeError, 503: ProviderConnectionError}


def to_pygeoapi_error(error: KazarrError) -> ProviderGenericError:
    return PYGEOAPI_ERRORS.get(status_of(error), ProviderGenericError)(error.description)


class KazarrEDRProvider(BaseEDRProvider):
    def __init__(self, provider_def):
        super().__init__(provider_def)
        try:
            self.opened = get_dataset(str(self.data))
        except KazarrError as error:
            raise ProviderConnectionError(error.description) from None
        self.max_values = int((self.options or {}).get('max_values') or Settings.from_env().max_values)
        self._fields = {
            name: {'type': 'number', 'title': str(var.attrs.get('long_name') or name),
                   'x-ogc-unit': str(var.attrs.get('units', ''))}
            for name, var in self.opened.model.variables.items()
        }

    def get_fields(self):
        return self._fields

    def _query(self, query_type: str, kwargs: dict) -> dict:
        params = {
            'datetime': kwargs.get('datetime_'),
            'z': kwargs.get('z'),
            'parameter-name': ','.join(kwargs.get('select_properties') or []) or None,
        }
        if kwargs.get('wkt') is not None:
            params['coords'] = shapely.to_wkt(kwargs['wkt'], rounding_precision=-1, output_dimension=4)
        if kwargs.get('bbox'):
            params['bbox'] = ','.join(str(v) for v in kwargs['bbox'])
        for ours, theirs in (('within', 'within'), ('within-units', 'within_units'),
                             ('corridor-width', 'corridor_width'), ('width-units', 'width_units'),
                             ('corridor-height', 'corridor_height'), ('height-units', 'height_units')):
            if kwargs.get(theirs) is not None:
                params[ours] = str(kwargs[theirs])
        try:
            document = coverage_document(self.opened, query_type, params, self.max_values)
        except KazarrError as error:
            raise to_pygeoapi_error(error) from None
        # pygeoapi serialises with the json module, which knows no numpy arrays
        return orjson.loads(to_covjson.encode(document))

    def position(self, **kwargs):
        return self._query('position', kwargs)

    def area(self, **kwargs):
        return self._query('area', kwargs)

    def cube(self, **kwargs):
        return self._query('cube', kwargs)

    def radius(self, **kwargs):
        return self._query('radius', kwargs)

    def trajectory(self, **kwargs):
        return self._query('trajectory', kwargs)

    def corridor(self, **kwargs):
        return self._query('corridor', kwargs)
