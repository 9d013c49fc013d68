"""A progress bar on stderr for the commands that take more than a few seconds.

Drawn only when stderr is a terminal, or when the user asks with ``--progress`` (a log file
or CI then gets one line per update instead of carriage returns). Standard output stays
what the command answers, so ``--json`` and pipes are unaffected.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30
STAGES = {"check": "检查 check", "load": "写入 load", "copy": "复制 copy"}


class ProgressBar:
    """``bar(stage, done, total)``: the callback the long services take."""

    def __init__(self, stream: TextIO, *, redraw: bool) -> None:
        self.stream = stream
        self.redraw = redraw  # a terminal: redraw one line; otherwise one line per update
        self.started = time.monotonic()
        self.stage = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.stage = stage
            self.started = time.monotonic()
        share = done / total if total else 1.0
        filled = int(WIDTH * share)
        seconds = time.monotonic() - self.started
        line = (
            f"{STAGES.get(stage, stage):<9} [{'#' * filled}{'.' * (WIDTH - filled)}]"
            f" {share:4.0%} {done}/{total} {seconds:.1f}s"
        )
        finished = done >= total
        if self.redraw:
            self.stream.write("\r" + line + ("\n" if finished else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def progress_bar(asked: bool, stream: TextIO | None = None) -> ProgressBar | None:
    """A bar on ``stream`` (stderr) when asked or when it is a terminal; else None."""
    stream = stream or sys.stderr
    terminal = stream.isatty()
    if not (asked or terminal):
        return None
    return ProgressBar(stream, redraw=terminal)
