"""The run's lip-sync score: LSE-C / LSE-D of the dubbed frames against the new audio.

`SyncProbe` watches the output stream (a `FrameObserver`) and keeps the first run of dubbed
frames (at most `MAX_FRAMES`) with the face's landmarks mapped back to frame pixels; `score()`
hands them to the benchmark's `lip_sync_metrics`, so the API reports the same number as
`xdub bench`. Imports: numpy, cv2, xdub.{bench, face, audio, types}.
"""

from __future__ import annotations

import cv2
import numpy as np

from xdub.audio.resample import resample
from xdub.bench.lipsync import lip_sync_metrics
from xdub.face.landmarks import transform_points
from xdub.types import Audio, AudioTrack

MAX_FRAMES = 250  # 10 s at 25 fps: enough for a stable score, bounded memory on long videos


class SyncProbe:
    """Collects dubbed output frames + frame-space landmarks, then scores their sync."""

    def __init__(self, scorer) -> None:  # scorer: xdub.models.syncnet.SyncScorer
        self.scorer = scorer
        self.fps, self.audio = 0.0, None
        self.first: int | None = None
        self.frames: list[np.ndarray] = []
        self.landmarks: list[np.ndarray] = []
        self.closed_run = False

    def start(self, fps: float, size: tuple[int, int], audio: AudioTrack | None) -> None:
        self.fps, self.audio = fps, audio

    def observe(self, index: int, source: np.ndarray, output: np.ndarray,
                crop_in: np.ndarray | None, crop_out: np.ndarray | None,
                affine: np.ndarray | None, crop_landmarks: np.ndarray | None) -> None:
        """Keep frame `index` while it extends the first run of dubbed frames."""
        if self.closed_run or affine is None or crop_landmarks is None:
            self.closed_run = self.closed_run or self.first is not None
            return
        if self.first is None:
            self.first = index
        if len(self.frames) >= MAX_FRAMES:
            self.closed_run = True
            return
        self.frames.append(output)
        frame_from_crop = cv2.invertAffineTransform(np.asarray(affine, np.float64))
        self.landmarks.append(transform_points(crop_landmarks, frame_from_crop))

    def close(self) -> None:
        """Nothing to flush."""

    def abort(self) -> None:
        self.frames, self.landmarks = [], []

    def score(self) -> dict[str, float] | None:
        """{lse_c, lse_d, lse_offset} of the kept frames, None when too few were dubbed."""
        cfg = self.scorer.cfg
        if self.first is None or self.audio is None or len(self.frames) < cfg.window_frames + 1:
            return None
        rate = int(self.audio.sample_rate)
        begin = round(self.first / self.fps * rate)
        stop = round((self.first + len(self.frames)) / self.fps * rate)
        piece = Audio(self.audio.read(begin, stop).astype(np.float32), rate)
        samples = resample(piece, cfg.sample_rate).samples
        landmarks = np.stack(self.landmarks)
        boxes = np.concatenate([landmarks.min(axis=1), landmarks.max(axis=1)], axis=1)
        return lip_sync_metrics(self.scorer, np.stack(self.frames), landmarks, boxes, samples,
                                self.fps)
