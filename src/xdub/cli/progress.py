"""Progress on stderr for long commands: rich bars with ETA on a terminal, plain periodic lines
(`dubbing: 30/75 (40%), 12.1 s, eta 18 s`) when stderr is a file or a pipe (#15), nothing with
--quiet. The lines come from `xdub.pipeline.CallbackProgress`, the same updates the Python API's
`progress=` callback and the web app receive.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing xdub.pipeline pulls in torch: only when a command runs
    from xdub.pipeline.progress import Progress, ProgressUpdate

LINE_INTERVAL_S = 5.0  # seconds between two progress lines in a log file


class RichProgress:
    """`xdub.pipeline.Progress` drawn as rich progress bars with ETA on stderr."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bars = Progress(TextColumn("{task.description:<15}"), BarColumn(),
                             MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"),
                             TimeRemainingColumn(), console=Console(stderr=True))
        self.task = None

    def start(self, stage: str, total: int | None) -> None:
        self.task = self.bars.add_task(stage, total=total)

    def advance(self, units: int = 1) -> None:
        if self.task is not None:
            self.bars.advance(self.task, units)

    def finish(self) -> None:
        if self.task is not None:
            task = self.bars.tasks[self.task]
            self.bars.update(self.task, total=task.completed)
        self.task = None


def print_line(update: "ProgressUpdate") -> None:
    """One progress line on stderr, flushed so a tail -f of the log shows it at once."""
    print(update.line(), file=sys.stderr, flush=True)


@contextmanager
def progress_for(quiet: bool, interval: float = LINE_INTERVAL_S) -> Iterator["Progress"]:
    """The progress reporter for this process's stderr (bars, lines or nothing)."""
    from xdub.pipeline.progress import CallbackProgress, NullProgress

    if quiet:
        yield NullProgress()
    elif sys.stderr.isatty():
        bars = RichProgress()
        with bars.bars:
            yield bars
    else:
        yield CallbackProgress(print_line, interval=interval)
