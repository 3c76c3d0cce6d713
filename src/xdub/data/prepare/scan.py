"""Steps 2-3, first pass: one decode of a raw video finds its scene cuts and its face tracks.

Frames are decoded at the clip rate (`segment.fps`, sample-and-hold onto that grid, the rule
of `xdub.media.iter_frames`), so frame indices here are the indices of every later step. The
face tracker (`xdub.face.track.track_faces`) already closes its tracks at scene cuts with
`xdub.face.scenecut`; this pass runs the same detector with the same threshold next to it to
keep the cut frames and the per-frame histogram distances, and a small thumbnail per second
(the report shows them for clips rejected before they were cropped).
Only geometry is kept (no frames), so memory does not grow with the video's resolution.
Imports: numpy, cv2, xdub.{face, media, config}.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from xdub.config.prepare import PrepareConfig
from xdub.face.detect import FaceDetector
from xdub.face.scenecut import SceneCutDetector
from xdub.face.track import FaceTrack, track_faces
from xdub.media import iter_frames

THUMB_SIDE = 96  # px, long side of the report's thumbnails


@dataclass(frozen=True)
class VideoScan:
    """What the first pass learned: `num_frames` at `fps`, frame `(width, height)`, the frames
    that start a new shot (`cuts`, ascending, never 0), `cut_distances: [T]` histogram distance
    of each frame to the previous one, and every face track (frame indices = clip-rate frames)."""

    num_frames: int
    fps: float
    frame_size: tuple[int, int]
    cuts: tuple[int, ...]
    cut_distances: np.ndarray
    tracks: tuple[FaceTrack, ...]
    thumbnails: dict[int, np.ndarray]  # frame index -> small RGB frame, one per second

    def thumbnail_near(self, frame: int) -> np.ndarray | None:
        """The kept thumbnail closest to `frame` (None for an empty video)."""
        if not self.thumbnails:
            return None
        return self.thumbnails[min(self.thumbnails, key=lambda k: abs(k - frame))]


def scan_video(path: Path, cfg: PrepareConfig, detector: FaceDetector,
               on_frame: Callable[[int], None] | None = None) -> VideoScan:
    """Decode `path` once at `cfg.segment.fps`: scene cuts + face tracks (see module doc)."""
    fps = cfg.segment.fps
    track_cfg = replace(cfg.face.track, scene_cut=True)
    cut_detector = SceneCutDetector(track_cfg.scene_cut_threshold)
    cuts: list[int] = []
    distances: list[float] = []
    size: list[tuple[int, int]] = []
    thumbnails: dict[int, np.ndarray] = {}
    every = max(1, round(fps))

    def frames() -> Iterator[np.ndarray]:
        for i, frame in enumerate(iter_frames(path, fps=fps)):
            if cut_detector.is_cut(frame):
                cuts.append(i)
            distances.append(cut_detector.last_distance if i else 0.0)
            if not size:
                size.append((int(frame.shape[1]), int(frame.shape[0])))
            if i % every == every // 2:
                thumbnails[i] = shrink(frame, THUMB_SIDE)
            yield frame

    tracks = track_faces(frames(), detector, track_cfg, fps=fps, on_frame=on_frame)
    return VideoScan(len(distances), fps, size[0], tuple(cuts),
                     np.asarray(distances, np.float32), tuple(tracks), thumbnails)


def shrink(image: np.ndarray, side: int) -> np.ndarray:
    """`image` resized so its long side is `side` px (report thumbnails)."""
    scale = side / max(image.shape[:2])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
