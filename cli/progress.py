"""A dependency-free progress bar for long CLI work: count, rate and time left (only drawn on a terminal).

The estimate is the remaining count at the average rate so far: files of a folder come in sorted order,
not by size, so the average is steadier than a recent-window rate. Redraws are limited to ten a second,
which keeps a 10,000-file run from spending its time writing to the terminal.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

__all__ = ["ProgressBar", "format_duration"]

_REDRAW_SECONDS = 0.1


class ProgressBar:
    def __init__(
        self,
        label: str,
        *,
        stream: TextIO = sys.stderr,
        width: int = 30,
        unit: str = "files",
        clock: Callable[[], float] = time.monotonic,
        enabled: bool | None = None,
    ) -> None:
        self.label = label
        self.stream = stream
        self.width = width
        self.unit = unit
        self.enabled = stream.isatty() if enabled is None else enabled
        self._clock = clock
        self._started = clock()
        self._drawn = -_REDRAW_SECONDS

    def update(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        now = self._clock()
        if done < total and now - self._drawn < _REDRAW_SECONDS:
            return
        self._drawn = now
        self.stream.write(f"\r{self.line(done, total, now - self._started)}\x1b[K")
        self.stream.flush()

    def line(self, done: int, total: int, elapsed: float) -> str:
        """The bar as drawn after `elapsed` seconds: `label [####....] done/total, rate, ETA`."""
        filled = int(self.width * done / total)
        text = f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total}"
        if done and elapsed > 0:
            rate = done / elapsed
            text += f" {rate:.1f} {self.unit}/s"
            text += (
                f" ETA {format_duration((total - done) / rate)}" if done < total else f" in {format_duration(elapsed)}"
            )
        return text

    def __enter__(self) -> ProgressBar:
        self._started = self._clock()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def format_duration(seconds: float) -> str:
    """`m:ss`, or `h:mm:ss` from an hour on."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
