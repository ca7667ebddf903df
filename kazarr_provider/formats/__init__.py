"""Output encoders, one module per format; `FORMATS` maps the `f` names to media types."""
from . import to_covjson

FORMATS = {'CoverageJSON': to_covjson.MEDIA_TYPE}
DEFAULT_FORMAT = 'CoverageJSON'
# `f` values and Accept media types understood for each format
ALIASES = {
    'coveragejson': 'CoverageJSON', 'covjson': 'CoverageJSON', 'json': 'CoverageJSON',
    'application/vnd.cov+json': 'CoverageJSON', 'application/prs.coverage+json': 'CoverageJSON',
    'application/json': 'CoverageJSON',
}
