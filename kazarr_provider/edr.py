"""The dotted path configurations name (`kazarr_provider.edr.KazarrEDRProvider`): kept for them."""
from .api.edr.provider import KazarrEDRProvider

__all__ = ['KazarrEDRProvider']
