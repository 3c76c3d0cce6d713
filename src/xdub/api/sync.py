"""The run's lip-sync score: LSE-C / LSE-D of the dubbed frames against the new audio.

`SyncProbe` watches the output stream (a `FrameObserver`) over the first run of dubbed frames
(at most `MAX_FRAMES`), maps the face's landmarks back to frame pixels and keeps only the
scorer's small mouth crops: each output frame waits until its crop geometry has settled (the
crop is smoothed over 5 frames, so two frames later) and is then cropped and dropped. The
crops are bit for bit those the benchmark's `lip_sync_metrics` cuts from the whole run, and
`score()` scores them the same way, so the API reports the same number as `xdub bench` without
holding full frames (250 of them were 1.5 GiB at 1080p).
Imports: numpy, cv2, xdub.{bench, face, audio, models, types}.
"""

from __future__ import annotations

import cv2
import numpy as np

from xdub.audio.resample import resample
from xdub.bench.lipsync import lip_sync_from_crops, mouth_crop_affines
from xdub.face.landmarks import transform_points
from xdub.models.syncnet_features import warp_mouth_crops
from xdub.types import Audio, AudioTrack

MAX_FRAMES = 250  # 10 s at 25 fps: enough for a stable score, bounded memory on long videos
SETTLE_FRAMES = 2  # a crop's geometry is smoothed over t-2..t+2 (`mouth_crop_affines`)
CROP_BATCH = 8  # frames cropped per settle: fewer geometry passes, at most 10 frames held


class SyncProbe:
    """Collects mouth crops of dubbed output frames as they stream past, then scores their sync."""

    def __init__(self, scorer) -> None:  # scorer: xdub.models.syncnet.SyncScorer
        self.scorer = scorer
        self.fps, self.audio = 0.0, None
        self.first: int | None = None
        self.landmarks: list[np.ndarray] = []  # [68, 2] frame pixels, every kept frame
        self.pending: list[np.ndarray] = []  # output frames not cropped yet (the last few)
        self.crops: list[np.ndarray] = []  # [h, w, C] uint8 of the frames before them
        self.closed_run = False

    def start(self, fps: float, size: tuple[int, int], audio: AudioTrack | None) -> None:
        self.fps, self.audio = fps, audio

    def observe(self, index: int, source: np.ndarray, output: np.ndarray,
                crop_in: np.ndarray | None, crop_out: np.ndarray | None,
                affine: np.ndarray | None, crop_landmarks: np.ndarray | None) -> None:
        """Keep frame `index` while it extends the first run of dubbed frames."""
        if self.closed_run or affine is None or crop_landmarks is None:
            if self.first is not None and not self.closed_run:
                self._close_run()
            return
        if self.first is None:
            self.first = index
        if len(self.landmarks) >= MAX_FRAMES:
            self._close_run()
            return
        self.pending.append(output)
        frame_from_crop = cv2.invertAffineTransform(np.asarray(affine, np.float64))
        self.landmarks.append(transform_points(crop_landmarks, frame_from_crop))
        if len(self.pending) >= SETTLE_FRAMES + CROP_BATCH:
            self._crop_settled(len(self.landmarks) - SETTLE_FRAMES)

    def close(self) -> None:
        """Nothing to flush."""

    def abort(self) -> None:
        self.pending, self.crops, self.landmarks = [], [], []

    def _close_run(self) -> None:
        """The run is complete: its last frames' geometry is final, crop them all."""
        self.closed_run = True
        self._crop_settled(len(self.landmarks))

    def _crop_settled(self, settled: int) -> None:
        """Crop the pending frames before frame `settled` (counted from the run's start)."""
        done = len(self.crops)
        if settled <= done:
            return
        landmarks = np.stack(self.landmarks)
        boxes = np.concatenate([landmarks.min(axis=1), landmarks.max(axis=1)], axis=1)
        affines = mouth_crop_affines(self.scorer.cfg, landmarks, boxes)[done:settled]
        frames, self.pending = self.pending[: settled - done], self.pending[settled - done :]
        self.crops.extend(warp_mouth_crops(frames, affines, self.scorer.cfg))

    def score(self) -> dict[str, float] | None:
        """{lse_c, lse_d, lse_offset} of the kept frames, None when too few were dubbed."""
        if self.first is not None and not self.closed_run:  # the video ended inside the run
            self._close_run()
        cfg = self.scorer.cfg
        if self.first is None or self.audio is None or len(self.crops) < cfg.window_frames + 1:
            return None
        rate = int(self.audio.sample_rate)
        begin = round(self.first / self.fps * rate)
        stop = round((self.first + len(self.crops)) / self.fps * rate)
        piece = Audio(self.audio.read(begin, stop).astype(np.float32), rate)
        samples = resample(piece, cfg.sample_rate).samples
        return lip_sync_from_crops(self.scorer, np.stack(self.crops), samples, self.fps)
