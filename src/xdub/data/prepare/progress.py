"""Progress of `xdub prepare`: a bar with ETA and per-reason reject counters.

On a terminal: a tqdm bar over input videos whose postfix shows kept clips and reject counts.
Otherwise (a log file, CI): one plain line per finished video with the same numbers and the
ETA, so progress is visible in files too. Imports: stdlib, tqdm.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import IO


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class PrepareProgress:
    """Counts outcomes and shows them; `video_done(rows)` after each input video."""

    def __init__(self, total_videos: int, stream: IO[str] | None = None,
                 enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.total, self.done = total_videos, 0
        self.kept, self.rejected = 0, Counter()
        self.enabled = enabled
        self._start = time.monotonic()
        self._bar = None
        if enabled and self.stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total_videos, unit="video", file=self.stream)

    def counters(self) -> str:
        """'kept 12 | no_face 3, short_shot 1'."""
        rejects = ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items()))
        return f"kept {self.kept}" + (f" | {rejects}" if rejects else "")

    def video_done(self, rows: list[dict]) -> None:
        """Count one finished video's manifest rows and show the new totals."""
        self.done += 1
        for row in rows:
            if row["status"] == "kept":
                self.kept += 1
            else:
                self.rejected[row["reason"]] += 1
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(self.counters(), refresh=False)
            self._bar.update(1)
            return
        elapsed = time.monotonic() - self._start
        eta = elapsed / self.done * (self.total - self.done)
        print(f"prepare [{self.done}/{self.total} videos, {self.done / max(self.total, 1):.0%},"
              f" ETA {_clock(eta)}] {self.counters()}", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
