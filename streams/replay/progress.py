"""Progress of long work: a redrawn bar on a terminal, a plain line per 10 % otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Reports ``done`` of ``total`` units (bytes, events) to a stream, rate-limited."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label, self.total = label, max(1, total)
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last_draw = 0.0
        self._last_decile = -1
        self._started = time.monotonic()

    def update(self, done: int) -> None:
        """Record progress; draws at most 10 times a second (TTY) or once per 10 % (not)."""
        frac = min(1.0, done / self.total)
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw >= 0.1 or frac >= 1.0:
                self._last_draw = now
                bar = "#" * int(frac * 30)
                self.stream.write(f"\r{self.label} [{bar:<30}] {frac:6.1%}")
                self.stream.flush()
        else:
            decile = int(frac * 10)
            if decile > self._last_decile:
                self._last_decile = decile
                self.stream.write(f"{self.label}: {decile * 10}%\n")
                self.stream.flush()

    def done(self) -> None:
        """Finish the line with the elapsed time."""
        self.update(self.total)
        took = time.monotonic() - self._started
        self.stream.write(f"{'' if not self.tty else chr(10)}{self.label}: done in {took:.1f}s\n")
        self.stream.flush()
