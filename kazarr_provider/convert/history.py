"""What each conversion adds to a store's attributes: a line prepended to CF `history` and an entry
appended to `kazarr:conversions` (tool version, action, time, inputs, first and last step)."""
from __future__ import annotations

import datetime as dt

from . import tool_version
from .compare import iso_time


def history_line(action: str, inputs: list[str], output: str, when: str) -> str:
    shown = inputs if len(inputs) <= 4 else inputs[:2] + [f'... ({len(inputs) - 3} more) ...'] + inputs[-1:]
    return f'{when}: kazarr-provider {tool_version()} {action} {" ".join(shown)} -> {output}'


def record(attrs: dict, action: str, inputs: list[str], output: str, times) -> dict:
    """`attrs` with this conversion prepended to `history` and added to `kazarr:conversions`."""
    when = dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    line = history_line(action, inputs, output, when)
    old = str(attrs.get('history') or '').strip()
    entry = {'tool': 'kazarr-provider', 'version': tool_version(), 'action': action, 'time': when,
             'inputs': inputs[:100], 'input_count': len(inputs)}
    if times is not None and len(times):
        entry['steps'] = [iso_time(times[0]), iso_time(times[-1])]
    conversions = list(attrs.get('kazarr:conversions') or []) + [entry]
    return {**attrs, 'history': f'{line}\n{old}' if old else line, 'kazarr:conversions': conversions}
