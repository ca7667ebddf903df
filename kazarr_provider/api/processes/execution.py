"""OGC API – Processes 1.0 execution: the request body and `Prefer` read, the answer shaped as 1.0 says.

No `Prefer` → synchronous. `Prefer: respond-async` (RFC 7240: among other preferences, `wait=N` too) →
a job: 201, `Location`, a statusInfo body and `Preference-Applied`. `response: raw` (default) answers one
output in its own media type (several: multipart/related); `document` a JSON object keyed by output id;
`transmissionMode: reference` stores the output and links to it. Sync and job results share `answer`.
"""
from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from typing import Callable, Mapping

import orjson

from ...data.storage import reading
from ...errors import InvalidParameter, TooLarge
from . import inputs as I
from .definitions import Process

RESPONSES = ('raw', 'document')
TRANSMISSIONS = ('value', 'reference')
_PREFERENCE = re.compile(r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*(?:=\s*("[^"]*"|[^;,\s]*))?')


@dataclass(frozen=True)
class Execution:
    """One execute request, worked out: validated inputs, the outputs asked and how to answer."""

    process: Process
    inputs: Mapping
    formats: Mapping[str, str]              # output id -> media type
    transmission: Mapping[str, str]         # output id -> value | reference
    response: str
    asynchronous: bool

    def options(self) -> dict:
        return {'formats': dict(self.formats), 'transmission': dict(self.transmission), 'response': self.response}


def parse_prefer(header: str | None) -> dict[str, str]:
    """RFC 7240 preferences, lower-cased names: 'respond-async, wait=10' -> {'respond-async': '', 'wait': '10'}."""
    preferences = {}
    for item in (header or '').split(','):
        token = item.split(';', 1)[0]
        match = _PREFERENCE.fullmatch(token) if token.strip() else None
        if match:
            preferences[match.group(1).lower()] = (match.group(2) or '').strip('"')
    return preferences


def parse_execution(process: Process, body, prefer: str | None, collections: list[str]) -> Execution:
    if not isinstance(body, dict):
        raise InvalidParameter('body: expected a JSON object {"inputs": {...}, "outputs": {...}, "response": ...}',
                               'body')
    unknown = sorted(set(body) - {'inputs', 'outputs', 'response', 'subscriber'})
    if unknown:
        raise InvalidParameter(f'{unknown[0]}: not a member of an execute request (inputs, outputs, response)',
                               unknown[0])
    validated = I.validate(body.get('inputs') or {}, process.inputs, collections)
    response = body.get('response', 'raw')
    if response not in RESPONSES:
        raise InvalidParameter(f'response: expected raw or document, got {response!r}', 'response')
    asked = body.get('outputs')
    if asked is None:
        asked = {name: {} for name in process.outputs}
    if not isinstance(asked, dict) or not asked:
        raise InvalidParameter(f'outputs: expected an object keyed by output id ({", ".join(process.outputs)})',
                               'outputs')
    formats, transmission = {}, {}
    for name, spec in asked.items():
        if name not in process.outputs:
            raise InvalidParameter(f'outputs: {name!r} is not an output of {process.id}; it has '
                                   f'{", ".join(process.outputs)}', 'outputs')
        spec = spec or {}
        if not isinstance(spec, dict):
            raise InvalidParameter(f'outputs.{name}: expected an object {{"format": {{"mediaType": ...}}, '
                                   '"transmissionMode": ...}', 'outputs')
        offered = process.outputs[name].media_types
        media = (spec.get('format') or {}).get('mediaType') if isinstance(spec.get('format'), dict) else None
        if media is not None and _media_key(media) not in {_media_key(m): m for m in offered}:
            raise InvalidParameter(f'outputs.{name}.format.mediaType: {media!r} is not offered; expected one of '
                                   f'{", ".join(offered)}', 'outputs')
        formats[name] = {_media_key(m): m for m in offered}[_media_key(media)] if media else offered[0]
        mode = spec.get('transmissionMode', 'value')
        if mode not in TRANSMISSIONS:
            raise InvalidParameter(f'outputs.{name}.transmissionMode: expected value or reference, got {mode!r}',
                                   'outputs')
        transmission[name] = mode
    asynchronous = 'respond-async' in parse_prefer(prefer)
    return Execution(process, validated, formats, transmission, response, asynchronous)


def _media_key(media: str | None) -> str:
    return re.sub(r'\s+', '', (media or '').lower())


def run(execution: Execution, opened, limit: int, async_limit: int | None = None,
        progress: Callable = lambda *args: None) -> dict:
    """The outputs asked, computed now; over `limit` → 413 naming it (and the asynchronous limit)."""
    try:
        with reading(opened.location):
            outputs = execution.process.run(opened, execution.inputs, execution.formats, limit, progress)
    except TooLarge as error:
        if async_limit and async_limit > limit:
            raise TooLarge(f'{error.description}; executed asynchronously (Prefer: respond-async) the limit is '
                           f'{async_limit:,} values', error.parameter) from None
        raise
    return {name: outputs[name] for name in execution.formats}


Answer = tuple[int, dict, bytes]          # status, headers, body


def answer(outputs: Mapping[str, tuple[str, bytes]], options: Mapping, link: Callable[[str], str]) -> Answer:
    """The results as 1.0 shapes them; `link(output id)` is where a stored output can be fetched."""
    transmission = options.get('transmission') or {name: 'value' for name in outputs}
    if options.get('response', 'raw') == 'document':
        document = {}
        for name, (media, body) in outputs.items():
            if transmission.get(name) == 'reference':
                document[name] = {'href': link(name), 'type': media}
            elif 'json' in media:
                document[name] = orjson.loads(body)
            else:
                document[name] = {'value': base64.b64encode(body).decode(), 'mediaType': media,
                                  'encoding': 'base64'}
        return 200, {'Content-Type': 'application/json'}, orjson.dumps(document)
    by_value = {name: out for name, out in outputs.items() if transmission.get(name) != 'reference'}
    references = [name for name in outputs if transmission.get(name) == 'reference']
    links = ', '.join(f'<{link(name)}>; rel="http://www.opengis.net/def/rel/ogc/1.0/results"; '
                      f'type="{outputs[name][0]}"' for name in references)
    headers = {'Link': links} if links else {}
    if not by_value:
        return 204, headers, b''
    if len(by_value) == 1:
        media, body = next(iter(by_value.values()))
        return 200, {**headers, 'Content-Type': media}, body
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Type: {media}\r\nContent-ID: <{name}>\r\n\r\n'.encode() + body + b'\r\n'
             for name, (media, body) in by_value.items()]
    return 200, {**headers, 'Content-Type': f'multipart/related; boundary={boundary}'}, \
        b''.join(parts) + f'--{boundary}--\r\n'.encode()

