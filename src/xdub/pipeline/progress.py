"""Progress reporting and per-stage timing for a dubbing run, and the run's summary.

The pipeline reports through the `Progress` protocol (the CLI draws rich progress bars with ETA
on a terminal; the library default draws nothing) and times its stages with a `StageTimer`; both
end up in the `DubSummary` returned with the result. `CallbackProgress` turns the protocol into
`ProgressUpdate`s (stage, done/total, elapsed, ETA) for a callback: the CLI's plain log lines when
stderr is not a terminal, the web app's progress bar and the Python API's `progress=` all use it.
Imports: stdlib only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol


class Progress(Protocol):
    """Receives stage starts and advances (one stage at a time)."""

    def start(self, stage: str, total: int | None) -> None:
        """A stage begins; `total` units of work (None = unknown)."""
        ...

    def advance(self, units: int = 1) -> None:
        """`units` more work done in the current stage."""
        ...

    def finish(self) -> None:
        """The current stage is over."""
        ...


class NullProgress:
    """Reports nothing."""

    def start(self, stage: str, total: int | None) -> None:
        pass

    def advance(self, units: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass(frozen=True)
class ProgressUpdate:
    """Where one stage stands: `done` of `total` units (None: unknown) after `elapsed` s."""

    stage: str
    done: int
    total: int | None
    elapsed: float
    finished: bool = False

    @property
    def fraction(self) -> float | None:
        """done / total in [0, 1], None when the total is unknown."""
        if not self.total:
            return None
        return min(1.0, self.done / self.total)

    @property
    def eta(self) -> float | None:
        """Seconds left at the stage's average rate so far (None before the first unit)."""
        if self.finished:
            return 0.0
        if not self.total or self.done <= 0:
            return None
        return self.elapsed / self.done * max(self.total - self.done, 0)

    def line(self) -> str:
        """One plain log line: `dubbing: 30/75 (40%), 12.1 s, eta 18 s`."""
        count = f"{self.done}/{self.total}" if self.total else str(self.done)
        if self.fraction is not None:
            count += f" ({self.fraction:.0%})"
        eta = self.eta
        tail = "done" if self.finished else ("eta ?" if eta is None else f"eta {eta:.0f} s")
        return f"{self.stage}: {count}, {self.elapsed:.1f} s, {tail}"


class CallbackProgress:
    """`Progress` that hands `ProgressUpdate`s to `callback`: at each stage start and end, and
    in between at most once every `interval` seconds (a log file gets a line every few seconds,
    not one per frame)."""

    def __init__(self, callback: Callable[[ProgressUpdate], None], interval: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.callback, self.interval, self.clock = callback, interval, clock
        self.stage, self.total, self.done = "", None, 0
        self.started = self.last_report = 0.0

    def start(self, stage: str, total: int | None) -> None:
        self.stage, self.total, self.done = stage, total, 0
        self.started = self.last_report = self.clock()
        self._report()

    def advance(self, units: int = 1) -> None:
        self.done += units
        if self.clock() - self.last_report >= self.interval:
            self._report()

    def finish(self) -> None:
        self._report(finished=True)

    def _report(self, finished: bool = False) -> None:
        now = self.clock()
        self.last_report = now
        self.callback(ProgressUpdate(self.stage, self.done, self.total, now - self.started,
                                     finished))


class StageTimer:
    """Accumulates wall-clock seconds per named stage (stages may interleave)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        """Add the time spent in the block to `stage`."""
        begin = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - begin


@dataclass
class DubSummary:
    """What a run did: counts and seconds per stage."""

    model: str = ""
    weights: str = ""  # where the model came from: "embedded default", a folder, ...
    fps: float = 0.0
    size: tuple[int, int] = (0, 0)  # (w, h) of the output = of the input
    length_decision: str = ""  # how audio and video lengths were reconciled (one sentence)
    source_frames: int = 0  # frames of the input video
    output_frames: int = 0  # frames written
    faces_found: int = 0  # face tracks in the scanned frames
    faces_dubbed: int = 0  # tracks chosen for dubbing
    chunks: int = 0  # generator calls
    frames_dubbed: int = 0  # output frames with a generated lower face
    frames_without_face: int = 0  # frames to dub where the face was absent: passed through
    frames_kept: int = 0  # frames outside the dubbed time range / past the audio: untouched
    steps: int = 0  # sampling steps per chunk (0 for non-diffusion generators)
    seconds: dict[str, float] = field(default_factory=dict)  # per stage

    @property
    def total_seconds(self) -> float:
        """Sum of the stage times."""
        return sum(self.seconds.values())

    @property
    def dubbed_per_second(self) -> float:
        """Dubbed frames per second of run time (kept frames cost nothing and don't count)."""
        total = self.total_seconds
        return self.frames_dubbed / total if total > 0 else 0.0

    def size_note(self) -> str:
        """The output size, and how an odd size was kept (H.264 4:2:0 needs even sizes)."""
        width, height = self.size
        note = f"{width}x{height}, same as the input"
        if width % 2 or height % 2:
            note += " (odd: coded H.264 4:4:4, which some players cannot play)"
        return note

    def rows(self) -> list[tuple[str, str]]:
        """(name, value) pairs for a summary table."""
        model = f"{self.model} ({self.weights})" if self.weights else self.model
        rows = [
            ("model", model + (f", {self.steps} step{'s' * (self.steps != 1)}" if self.steps else "")),
            ("length", self.length_decision),
            ("frames (out / source)", f"{self.output_frames} / {self.source_frames}"),
            ("size", self.size_note()),
            ("fps", f"{self.fps:.3f}"),
            ("faces (dubbed / found)", f"{self.faces_dubbed} / {self.faces_found}"),
            ("chunks", str(self.chunks)),
            ("frames dubbed (generated)", str(self.frames_dubbed)),
            ("frames kept (unchanged)", str(self.frames_kept + self.frames_without_face)),
            ("  of which without the face", str(self.frames_without_face)),
        ]
        for stage, secs in self.seconds.items():
            rows.append((f"time: {stage}", f"{secs:.2f} s"))
        rows.append(("time: total", f"{self.total_seconds:.2f} s "
                                    f"({self.dubbed_per_second:.2f} dubbed frames/s)"))
        return rows
