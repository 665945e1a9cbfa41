"""Progress of long commands: a bar with rate and ETA on a terminal, nothing otherwise.

The work below webapp reports through neutral callbacks (``on_progress``, ``on_bytes``, ...); only this
module knows about tqdm. Off a terminal (cron, a pipe, a log file) the bar would be noise around the
command's one summary line, so the callback does nothing there.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm

# Redraw at most twice a second: a fast loop must not spend its time writing to the terminal.
MIN_INTERVAL = 0.5


def stream():
    """Where the bar goes (stderr, so that stdout stays the command's result); tests replace it."""
    return sys.stderr


class _Quiet:
    """Off a terminal: hears the progress and draws nothing."""

    def __call__(self, n: float = 1) -> None:
        pass

    def set_total(self, total: float) -> None:
        pass


class _Bar(_Quiet):
    def __init__(self, bar: tqdm):
        self.bar = bar

    def __call__(self, n: float = 1) -> None:
        self.bar.update(n)

    def set_total(self, total: float) -> None:
        """For work that learns its size once started: the bar can then show an ETA."""
        self.bar.total = total
        self.bar.refresh()


@contextmanager
def progress(desc: str, unit: str, total: float | None = None, unit_scale: bool = False) -> Iterator[_Quiet]:
    """A callback taking how much more work is done (and ``set_total``); a bar only when ``stream()`` is a
    terminal."""
    out = stream()
    if not out.isatty():
        yield _Quiet()
        return
    with tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, file=out, mininterval=MIN_INTERVAL,
              dynamic_ncols=True) as bar:
        yield _Bar(bar)
