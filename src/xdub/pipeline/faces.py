"""Pipeline steps 2-3: track faces over the source frames, choose the face to dub, align crops.

Result: a `FaceTable` with, for every source frame, whether the chosen face is there and the
frame->crop similarity (smoothed over time by `xdub.face.align`). Frames without it are passed
through untouched later. Choosing: `--face N` takes track N only; "longest"/"largest" take the
best track and then fill the frames it does not cover with the best non-overlapping tracks of
a similar size (>= `SIMILAR_SIZE` of the first), which follows one speaker across scene cuts
(the tracker closes every track at a cut) without grabbing small background faces.
Imports: numpy, cv2, xdub.face, xdub.config, xdub.errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import cv2
import numpy as np

from xdub.config.face import FaceConfig
from xdub.errors import ConfigError
from xdub.face.align import estimate_alignments
from xdub.face.detect import CandidateSource, FaceDetection, FaceDetector, LandmarkRefiner
from xdub.face.landmarks import NUM_LANDMARKS, transform_points
from xdub.face.track import FaceTrack, select_track, track_faces

log = logging.getLogger(__name__)

SIMILAR_SIZE = 0.5  # extra tracks must be at least this fraction of the main track's face size


@dataclass(frozen=True)
class FaceTable:
    """Crop geometry of the chosen face for source frames [first, first + N).

    `present: [N]` bool; `affines: [N, 2, 3]` frame->crop (zeros where absent);
    `crop_landmarks: [N, 68, 2]` in crop pixels; `boxes: [N, 4]` xyxy frame pixels;
    `track_ids: [N]` int, index into `tracks` of the face in each frame (-1 where absent).
    """

    first: int
    crop_size: int
    present: np.ndarray
    affines: np.ndarray
    crop_landmarks: np.ndarray
    boxes: np.ndarray
    track_ids: np.ndarray
    tracks: tuple[FaceTrack, ...]  # every track found (frame indices are SOURCE indices)
    chosen: tuple[int, ...]  # indices into `tracks` that are dubbed

    def row(self, source_index: int) -> int | None:
        """Row of a source frame when the chosen face is there, else None."""
        r = int(source_index) - self.first
        return r if 0 <= r < len(self.present) and self.present[r] else None

    def has_face(self, source_indices: np.ndarray) -> np.ndarray:
        """`[T]` bool: the chosen face is present in each of `source_indices: [T]`."""
        rows = np.asarray(source_indices, np.int64) - self.first
        inside = (rows >= 0) & (rows < len(self.present))
        out = np.zeros(rows.shape, bool)
        out[inside] = self.present[rows[inside]]
        return out


class ScaledDetector:
    """Runs a detector on frames downscaled to `max_side` and maps results back (4K input)."""

    def __init__(self, detector: FaceDetector, max_side: int) -> None:
        self.detector, self.max_side = detector, max_side

    def _scale(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        scale = self.max_side / max(frame.shape[:2])
        if scale >= 1.0:
            return frame, 1.0
        size = (max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale)))
        return cv2.resize(frame, size, interpolation=cv2.INTER_AREA), scale

    def detect(self, frame: np.ndarray) -> list[FaceDetection]:
        """Faces in `frame: [H, W, 3]`, in full-resolution pixels."""
        small, scale = self._scale(frame)
        return [_rescale(d, 1.0 / scale) for d in self.detector.detect(small)]

    def refine(self, frame: np.ndarray, previous: FaceDetection) -> FaceDetection | None:
        """Follow `previous` into `frame` when the wrapped detector can (else None)."""
        if not isinstance(self.detector, LandmarkRefiner):
            return None
        small, scale = self._scale(frame)
        found = self.detector.refine(small, _rescale(previous, scale))
        return None if found is None else _rescale(found, 1.0 / scale)

    def candidates(self, frame: np.ndarray, model: str, min_score: float,
                   limit: int) -> list[FaceDetection]:
        """The wrapped detector's low-score candidates (`CandidateSource`), or none."""
        if not isinstance(self.detector, CandidateSource):
            return []
        small, scale = self._scale(frame)
        return [_rescale(d, 1.0 / scale)
                for d in self.detector.candidates(small, model, min_score, limit)]


def _rescale(det: FaceDetection, factor: float) -> FaceDetection:
    """A detection with every coordinate multiplied by `factor`."""
    if factor == 1.0:
        return det
    mesh = None
    if det.mesh is not None:
        mesh = det.mesh.copy()
        mesh[..., :2] *= factor
    landmarks = None if det.landmarks is None else det.landmarks * factor
    return replace(det, box=det.box * factor, landmarks=landmarks, mesh=mesh)


def track_span(
    frames: Iterable[np.ndarray], first: int, detector: FaceDetector, cfg: FaceConfig,
    fps: float, on_frame: Callable[[int], None] | None = None,
) -> list[FaceTrack]:
    """Tracks over source frames first, first + 1, ...; their frame indices are SOURCE indices."""
    tracks = track_faces(frames, detector, cfg.track, fps=fps, on_frame=on_frame)
    return [replace(t, frame_indices=t.frame_indices + first) for t in tracks]


def choose_tracks(tracks: list[FaceTrack], how: str) -> list[int]:
    """Indices of the tracks to dub (see the module docstring); NoFaceError if there are none."""
    main = tracks.index(select_track(tracks, how))
    if how.isdigit():
        return [main]
    if how == "longest":
        def rank(t: FaceTrack) -> tuple[float, float]:
            return (t.num_present, t.mean_size)
    elif how == "largest":
        def rank(t: FaceTrack) -> tuple[float, float]:
            return (t.mean_size, t.num_present)
    else:
        raise ConfigError(f"face selection {how!r}: use a track index, 'longest' or 'largest'")
    chosen = [main]
    min_size = SIMILAR_SIZE * tracks[main].mean_size
    for k in sorted(range(len(tracks)), key=lambda k: rank(tracks[k]), reverse=True):
        t = tracks[k]
        if k in chosen or t.mean_size < min_size:
            continue
        if all(t.last < tracks[c].first or t.first > tracks[c].last for c in chosen):
            chosen.append(k)
    return sorted(chosen, key=lambda k: tracks[k].first)


def build_face_table(
    tracks: list[FaceTrack], chosen: list[int], first: int, num: int, cfg: FaceConfig,
    fps: float,
) -> FaceTable:
    """Per-source-frame crop geometry for the `chosen` tracks over [first, first + num)."""
    size = cfg.align.crop_size
    present = np.zeros(num, bool)
    affines = np.zeros((num, 2, 3), np.float64)
    crop_landmarks = np.zeros((num, NUM_LANDMARKS, 2), np.float32)
    boxes = np.zeros((num, 4), np.float32)
    track_ids = np.full(num, -1, np.int64)
    for k in chosen:
        track = tracks[k]
        if track.landmarks is None or track.landmarks.shape[1] != NUM_LANDMARKS:
            log.warning("face track %d has no 68-point landmarks; its frames pass through", k)
            continue
        track_affines = estimate_alignments(track.landmarks, size, cfg.align, fps)
        rows = track.frame_indices - first
        inside = (rows >= 0) & (rows < num)
        for j in np.flatnonzero(inside):
            r = int(rows[j])
            present[r] = True
            affines[r] = track_affines[j]
            crop_landmarks[r] = transform_points(track.landmarks[j], track_affines[j])
            boxes[r] = track.boxes[j]
            track_ids[r] = k
    return FaceTable(first, size, present, affines, crop_landmarks, boxes, track_ids,
                     tuple(tracks), tuple(chosen))


def empty_face_table(crop_size: int, tracks: list[FaceTrack] | None = None) -> FaceTable:
    """A table with no face anywhere (every frame passes through)."""
    return FaceTable(0, crop_size, np.zeros(0, bool), np.zeros((0, 2, 3)),
                     np.zeros((0, NUM_LANDMARKS, 2), np.float32), np.zeros((0, 4), np.float32),
                     np.zeros(0, np.int64), tuple(tracks or ()), ())
