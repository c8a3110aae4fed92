"""A one-line progress bar for the CLI on stderr: n/total, items/s, ETA.

On a terminal the line is redrawn at most 10 times a second; when stderr is not a tty
(pipes, CI logs) only the final summary line is written.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """``with Progress(total, "predict", unit="photos") as bar: bar.update()``."""

    def __init__(self, total: int, label: str = "", unit: str = "photos", stream: TextIO | None = None, width: int = 24):
        self.total = max(0, int(total))
        self.label = label
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.done = 0
        self.start = time.monotonic()
        self._last_draw = 0.0
        self._closed = False
        try:
            self.tty = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.tty = False

    def rate(self) -> float:
        elapsed = time.monotonic() - self.start
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        """The current status text (without carriage return)."""
        rate = self.rate()
        frac = self.done / self.total if self.total else 1.0
        filled = int(round(frac * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        eta = _clock((self.total - self.done) / rate) if rate > 0 and self.done < self.total else "--:--"
        label = f"{self.label} " if self.label else ""
        return f"{label}[{bar}] {self.done}/{self.total} {rate:.1f} {self.unit}/s ETA {eta}"

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.tty:
            return
        now = time.monotonic()
        if now - self._last_draw >= 0.1 or self.done >= self.total:
            self._last_draw = now
            self.stream.write("\r\x1b[K" + self.line())
            self.stream.flush()

    def write(self, message: str) -> None:
        """Print a message line without garbling the bar."""
        if self.tty:
            self.stream.write("\r\x1b[K")
        self.stream.write(message + "\n")
        if self.tty:
            self.stream.write(self.line())
        self.stream.flush()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        elapsed = time.monotonic() - self.start
        label = f"{self.label}: " if self.label else ""
        summary = f"{label}{self.done}/{self.total} {self.unit} in {elapsed:.1f} s ({self.rate():.1f} {self.unit}/s)"
        self.stream.write(("\r\x1b[K" if self.tty else "") + summary + "\n")
        self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
