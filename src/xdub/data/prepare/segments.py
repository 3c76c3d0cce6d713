"""Step 2, segmentation: shots between scene cuts, cut into clips of a configured length.

Frames next to a cut are trimmed (`trim_frames`: a cut is often a fade or a half-decoded
frame), each shot is cut into consecutive clips of `clip_seconds`, and a shot or remainder
shorter than `min_clip_seconds` becomes a "short_shot" reject. Pure. Imports: xdub.config.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdub.config.prepare import SegmentRules


@dataclass(frozen=True)
class Segment:
    """Frames [start, stop) of one shot piece; `shot` numbers the shots of the video."""

    shot: int
    start: int
    stop: int

    @property
    def num_frames(self) -> int:
        return self.stop - self.start


def shot_bounds(cuts: tuple[int, ...], num_frames: int) -> list[tuple[int, int]]:
    """[start, stop) of every shot: cuts start new shots."""
    edges = [0, *[c for c in cuts if 0 < c < num_frames], num_frames]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def split_shots(cuts: tuple[int, ...], num_frames: int,
                rules: SegmentRules) -> tuple[list[Segment], list[Segment]]:
    """(clips, too_short): every shot trimmed at its cuts and cut into clip-length pieces."""
    clip_len = max(1, round(rules.clip_seconds * rules.fps))
    min_len = max(1, round(rules.min_clip_seconds * rules.fps))
    kept: list[Segment] = []
    short: list[Segment] = []
    for shot, (a, b) in enumerate(shot_bounds(cuts, num_frames)):
        start = a + (rules.trim_frames if a > 0 else 0)
        stop = b - (rules.trim_frames if b < num_frames else 0)
        while start < stop:
            end = min(start + clip_len, stop)
            (kept if end - start >= min_len else short).append(Segment(shot, start, end))
            start = end
    return kept, short
