"""Progress on a terminal: tqdm when installed, else one rewritten stderr line; nothing when not a TTY."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, description: str, enabled: bool | None = None, unit: str = 'block'):
        self.total = max(int(total), 0)
        self.done = 0
        self.description = description
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar = None
        self._last = 0.0
        if self.enabled:
            try:
                from tqdm import tqdm      # optional, and only wanted on a terminal
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=self.total, desc=description, unit=unit, file=sys.stderr, leave=True,
                                 dynamic_ncols=True)

    def update(self, n: int = 1, note: str | None = None):
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            if note:
                self._bar.set_postfix_str(note, refresh=False)
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last < 0.2 and self.done < self.total:
            return
        self._last = now
        share = f'{100.0 * self.done / self.total:5.1f}%' if self.total else ''
        sys.stderr.write(f'\r{self.description}: {self.done}/{self.total} {share} {note or ""}'.rstrip()[:200])
        sys.stderr.flush()

    def close(self):
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        else:
            sys.stderr.write('\n')
            sys.stderr.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
