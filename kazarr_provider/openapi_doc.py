"""The OpenAPI document: pygeoapi's, plus what our routes add (health, POST, status codes, media type)."""
from __future__ import annotations

import os
import re
from copy import deepcopy
from pathlib import Path

import yaml

from .formats import to_covjson

EDR_PATH = re.compile(r'^/collections/([^/]+)/(position|area|cube|radius|trajectory|corridor)/?$')


def openapi_document(config: dict) -> dict:
    from pygeoapi.openapi import get_oas
    document = get_oas(config, fail_on_invalid_collection=False)
    document['paths']['/health'] = {'get': {
        'summary': 'Liveness', 'operationId': 'health', 'tags': ['server'],
        'responses': {'200': {'description': '{"status": "ok"}'}}}}
    for path, item in document['paths'].items():
        match = EDR_PATH.match(path)
        if match and 'get' in item:
            responses = item['get'].setdefault('responses', {})
            content = responses.get('200', {}).get('content', {})
            if 'application/prs.coverage+json' in content:
                content[to_covjson.MEDIA_TYPE] = content.pop('application/prs.coverage+json')
            responses.update({
                '204': {'description': 'No data: the request lies outside the data'},
                '400': {'description': 'Invalid parameter (JSON body names it)'},
                '404': {'description': 'Unknown collection'},
                '413': {'description': 'Answer larger than the server limit'}})
            item['post'] = deepcopy(item['get'])
            item['post']['operationId'] = item['get'].get('operationId', path) + 'Post'
            item['post']['parameters'] = [{'$ref': '#/components/parameters/f'}]
            item['post']['requestBody'] = {'content': {
                'application/x-www-form-urlencoded': {'schema': {'type': 'object'}},
                'application/json': {'schema': {'type': 'object'}}}}
    return document


def write_runtime_files(state, openapi_path: str | None = None) -> tuple[str, str]:
    """pygeoapi reads its config and OpenAPI from files named in the environment."""
    directory = Path(state.settings.state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / 'pygeoapi-config.generated.yml'
    openapi_file = Path(openapi_path) if openapi_path else directory / 'openapi.generated.yml'
    _write_atomically(config_file, yaml.safe_dump(state.config, sort_keys=False))
    _write_atomically(openapi_file, yaml.safe_dump(openapi_document(state.config), sort_keys=False))
    return str(config_file), str(openapi_file)


def _write_atomically(path: Path, text: str):
    """Workers write the same files concurrently: each replaces them whole, none sees a half-written one."""
    partial = path.with_name(f'{path.name}.{os.getpid()}.part')
    partial.write_text(text, encoding='utf8')
    os.replace(partial, path)
