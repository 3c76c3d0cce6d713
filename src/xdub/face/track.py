"""Face tracking across frames: identity association, gap bridging, smoothing, scene cuts.

Streaming use: `tracker.update(i, frame, detections)` per frame (detections=None when the
detector was not run on that frame), then `tracker.finalize() -> list[FaceTrack]`.
`track_faces(frames, detector, cfg)` drives a detector over an iterable of frames, running the
full detector every `cfg.detect_every` frames and, in between, re-fitting landmarks from the
previous pose when the detector can (`LandmarkRefiner`), which is how MediaPipe tracks.

Association: Hungarian matching (scipy) on cost = 1 - IoU(predicted box, detection) +
w * mean landmark distance (in face sizes), with constant-velocity box prediction. Misses up to
`max_gap` frames are bridged by linear interpolation, and longer ones up to `max_still_gap`
frames when the face comes back where it was (IoU >= `still_iou` with its last box, not its
extrapolation); a scene cut closes every track.
Imports: numpy, scipy, xdub.config, xdub.errors, xdub.face.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from xdub.config.face import TrackConfig
from xdub.errors import ConfigError, NoFaceError
from xdub.face.detect import FaceDetection, FaceDetector, LandmarkRefiner
from xdub.face.scenecut import SceneCutDetector
from xdub.face.smooth import one_euro

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaceTrack:
    """One person's face over consecutive frames (gaps already interpolated).

    `frame_indices: [N]` int consecutive; `boxes: [N, 4]` xyxy px; `landmarks: [N, 68, 2]` px or
    None; `present: [N]` bool, True where detected, False where interpolated; `scores: [N]`.
    """

    track_id: int
    frame_indices: np.ndarray
    boxes: np.ndarray
    landmarks: np.ndarray | None
    present: np.ndarray
    scores: np.ndarray

    @property
    def first(self) -> int:
        """First frame index."""
        return int(self.frame_indices[0])

    @property
    def last(self) -> int:
        """Last frame index (inclusive)."""
        return int(self.frame_indices[-1])

    @property
    def num_present(self) -> int:
        """Frames where the face was actually detected."""
        return int(self.present.sum())

    @property
    def mean_size(self) -> float:
        """Mean geometric box size sqrt(w * h), px."""
        wh = np.clip(self.boxes[:, 2:] - self.boxes[:, :2], 0, None)
        return float(np.sqrt(wh[:, 0] * wh[:, 1]).mean())

    def index_of(self, frame_index: int) -> int | None:
        """Row of `frame_index` in this track's arrays, or None outside it."""
        row = frame_index - self.first
        return row if 0 <= row < len(self.frame_indices) else None


@dataclass
class _Live:
    """Mutable state of a track being built."""

    track_id: int
    frames: list[int] = field(default_factory=list)
    detections: list[FaceDetection] = field(default_factory=list)

    def predicted_box(self, frame_index: int) -> np.ndarray:
        """Constant-velocity extrapolation of the box to `frame_index`."""
        box = self.detections[-1].box.astype(np.float64)
        if len(self.frames) < 2:
            return box
        step = (box - self.detections[-2].box) / max(self.frames[-1] - self.frames[-2], 1)
        return box + step * (frame_index - self.frames[-1])


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two xyxy boxes `[4]`."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _landmark_distance(track: _Live, det: FaceDetection, predicted: np.ndarray) -> float:
    """Mean landmark distance in face sizes, after moving the last landmarks with the box."""
    last = track.detections[-1]
    if last.landmarks is None or det.landmarks is None:
        return 0.0
    shift = (predicted[:2] + predicted[2:]) / 2 - (last.box[:2] + last.box[2:]) / 2
    dist = np.linalg.norm(det.landmarks - (last.landmarks + shift), axis=-1).mean()
    return float(dist / max(last.size, 1.0))


class FaceTracker:
    """Streaming multi-face tracker; see the module docstring."""

    def __init__(self, cfg: TrackConfig | None = None, fps: float = 25.0) -> None:
        self.cfg = cfg or TrackConfig()
        self.fps = fps
        self._live: list[_Live] = []
        self._done: list[_Live] = []
        self._next_id = 0
        self._cuts = SceneCutDetector(self.cfg.scene_cut_threshold)
        self._checked_frame: int | None = None
        self.cut_frames: list[int] = []

    def begin_frame(self, frame_index: int, frame: np.ndarray | None) -> bool:
        """Check `frame` for a scene cut (closing all tracks); True if it starts a new shot."""
        if self._checked_frame == frame_index:
            return bool(self.cut_frames and self.cut_frames[-1] == frame_index)
        self._checked_frame = frame_index
        if frame is None or not self.cfg.scene_cut or not self._cuts.is_cut(frame):
            return False
        log.info("scene cut at frame %d: closing %d track(s)", frame_index, len(self._live))
        self.cut_frames.append(frame_index)
        self._done.extend(self._live)
        self._live = []
        return True

    def active(self) -> list[FaceDetection]:
        """Last detection of each live track (what a refiner should follow next)."""
        return [t.detections[-1] for t in self._live]

    def update(self, frame_index: int, frame: np.ndarray | None,
               detections: list[FaceDetection] | None) -> None:
        """Add one frame's detections (None: detector not run on this frame)."""
        self.begin_frame(frame_index, frame)
        # Close tracks missed for longer than the bridgeable gap.
        longest = max(self.cfg.max_gap, self.cfg.max_still_gap)
        stale = [t for t in self._live if frame_index - t.frames[-1] > longest + 1]
        self._done.extend(stale)
        self._live = [t for t in self._live if t not in stale]
        if detections is None:
            return
        matched_dets: set[int] = set()
        for ti, di in self._associate(frame_index, detections):
            live = self._live[ti]
            # Refining follows only the newest mesh; older ones would grow memory per frame.
            if live.detections[-1].mesh is not None:
                live.detections[-1] = replace(live.detections[-1], mesh=None)
            live.frames.append(frame_index)
            live.detections.append(detections[di])
            matched_dets.add(di)
        for di, det in enumerate(detections):
            if di not in matched_dets:
                self._live.append(_Live(self._next_id, [frame_index], [det]))
                self._next_id += 1

    def _associate(self, frame_index: int, dets: list[FaceDetection]) -> list[tuple[int, int]]:
        """Hungarian matching of live tracks to detections; only pairs within the gates."""
        live = [t for t in self._live if t.frames[-1] < frame_index]
        if not live or not dets:
            return []
        cost = np.full((len(live), len(dets)), 1e6)
        for i, track in enumerate(live):
            if frame_index - track.frames[-1] - 1 > self.cfg.max_gap:  # long miss: where it was
                predicted, min_iou = track.detections[-1].box.astype(np.float64), self.cfg.still_iou
            else:
                predicted, min_iou = track.predicted_box(frame_index), self.cfg.min_iou
            for j, det in enumerate(dets):
                iou = box_iou(predicted, det.box)
                if iou < min_iou:
                    continue
                cost[i, j] = 1.0 - iou + self.cfg.landmark_weight * _landmark_distance(
                    track, det, predicted)
        rows, cols = linear_sum_assignment(cost)
        index = {id(t): k for k, t in enumerate(self._live)}
        return [(index[id(live[r])], int(c)) for r, c in zip(rows, cols)
                if cost[r, c] <= self.cfg.max_cost]

    def finalize(self) -> list[FaceTrack]:
        """Close every track; return those with >= min_length detections, by first frame."""
        done, self._done, self._live = self._done + self._live, [], []
        tracks = [self._densify(t) for t in done if len(t.frames) >= self.cfg.min_length]
        return sorted(tracks, key=lambda t: (t.first, t.track_id))

    def _densify(self, live: _Live) -> FaceTrack:
        """Dense arrays over [first, last] with interpolated gaps, smoothed if configured."""
        frames = np.asarray(live.frames)
        dense = np.arange(frames[0], frames[-1] + 1)
        present = np.isin(dense, frames)
        boxes = _interpolate(frames, np.stack([d.box for d in live.detections]), dense)
        scores = np.interp(dense, frames, [d.score for d in live.detections]).astype(np.float32)
        landmarks = None
        if all(d.landmarks is not None for d in live.detections):
            stacked = np.stack([d.landmarks for d in live.detections])  # type: ignore[misc]
            landmarks = _interpolate(frames, stacked, dense)
        if self.cfg.smooth and len(dense) > 2:
            size = np.sqrt(np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 1, None), axis=1))
            cfg = self.cfg
            boxes = one_euro(boxes, self.fps, cfg.min_cutoff, cfg.beta, size, cfg.zero_phase)
            if landmarks is not None:
                landmarks = one_euro(landmarks, self.fps, cfg.min_cutoff, cfg.beta, size,
                                     cfg.zero_phase)
        return FaceTrack(live.track_id, dense, boxes.astype(np.float32),
                         None if landmarks is None else landmarks.astype(np.float32),
                         present, scores)


def _interpolate(frames: np.ndarray, values: np.ndarray, dense: np.ndarray) -> np.ndarray:
    """Linear interpolation of `values: [N, ...]` known at `frames: [N]` onto `dense: [M]`."""
    flat = values.reshape(len(values), -1).astype(np.float64)
    out = np.stack([np.interp(dense, frames, flat[:, k]) for k in range(flat.shape[1])], axis=1)
    return out.reshape((len(dense),) + values.shape[1:])


def _dedupe(dets: list[FaceDetection], iou: float = 0.5) -> list[FaceDetection]:
    """Drop refined faces that converged onto the same face (keep the higher score)."""
    kept: list[FaceDetection] = []
    for det in sorted(dets, key=lambda d: -d.score):
        if all(box_iou(det.box, k.box) <= iou for k in kept):
            kept.append(det)
    return kept


def track_faces(frames: Iterable[np.ndarray], detector: FaceDetector,
                cfg: TrackConfig | None = None, fps: float = 25.0,
                on_frame: Callable[[int], None] | None = None) -> list[FaceTrack]:
    """Detect and track faces in `frames` (each `[H, W, 3]` uint8 RGB); see module docstring."""
    cfg = cfg or TrackConfig()
    tracker = FaceTracker(cfg, fps)
    refiner = detector if isinstance(detector, LandmarkRefiner) else None
    if refiner is None and cfg.detect_every > cfg.max_gap + 1:
        raise ConfigError(f"detect_every={cfg.detect_every} needs max_gap >= {cfg.detect_every - 1}"
                          " with a detector that cannot follow faces between detections")
    need_detect = True
    for i, frame in enumerate(frames):
        cut = tracker.begin_frame(i, frame)
        dets: list[FaceDetection] | None = None
        if need_detect or cut or i % cfg.detect_every == 0 or not tracker.active():
            dets = detector.detect(frame)
            need_detect = False
        elif refiner is not None:
            previous = tracker.active()
            refined = [refiner.refine(frame, p) for p in previous]
            # A lost face makes the next frame a full detection, to pick it (or others) up.
            need_detect = any(r is None for r in refined)
            dets = _dedupe([r for r in refined if r is not None])
        tracker.update(i, frame, dets)
        if on_frame is not None:
            on_frame(i)
    return tracker.finalize()


def select_track(tracks: list[FaceTrack], how: str | int = "longest") -> FaceTrack:
    """Pick one track: an index into `tracks`, "longest" (most detected frames) or "largest"."""
    if not tracks:
        raise NoFaceError("no face found in the video")
    if isinstance(how, int) or (isinstance(how, str) and how.isdigit()):
        index = int(how)
        if not 0 <= index < len(tracks):
            raise ConfigError(
                f"--face {index}: only {len(tracks)} face track(s) (0..{len(tracks) - 1})")
        return tracks[index]
    if how == "longest":
        return max(tracks, key=lambda t: (t.num_present, t.mean_size))
    if how == "largest":
        return max(tracks, key=lambda t: (t.mean_size, t.num_present))
    raise ConfigError(f"face selection {how!r}: use a track index, 'longest' or 'largest'")
