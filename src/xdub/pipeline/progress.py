"""Progress reporting and per-stage timing for a dubbing run, and the run's summary.

The pipeline reports through the `Progress` protocol (the CLI draws rich progress bars with ETA;
the library default draws nothing) and times its stages with a `StageTimer`; both end up in the
`DubSummary` returned with the result. Imports: stdlib only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
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
    fps: float = 0.0
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

    def rows(self) -> list[tuple[str, str]]:
        """(name, value) pairs for a summary table."""
        rows = [
            ("model", self.model),
            ("frames (out / source)", f"{self.output_frames} / {self.source_frames}"),
            ("fps", f"{self.fps:.3f}"),
            ("faces (dubbed / found)", f"{self.faces_dubbed} / {self.faces_found}"),
            ("chunks", str(self.chunks)),
            ("frames dubbed", str(self.frames_dubbed)),
            ("frames without face (passed through)", str(self.frames_without_face)),
            ("frames kept (outside range)", str(self.frames_kept)),
        ]
        for stage, secs in self.seconds.items():
            rows.append((f"time: {stage}", f"{secs:.2f} s"))
        total = self.total_seconds
        fps = self.output_frames / total if total > 0 else 0.0
        rows.append(("time: total", f"{total:.2f} s ({fps:.2f} frames/s)"))
        return rows
