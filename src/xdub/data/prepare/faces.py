"""Step 3: pick the face of each clip from the video's face tracks, or say why there is none.

A clip keeps the frames where one track covers it (the clip shrinks to the track's span inside
the segment). Tracks smaller than `dominance` x the largest face of the segment are background
faces and are ignored; when several faces are that large the clip is "multiple_faces", or,
with `one_per_track`, each of them gives its own clip, marked with how many other faces it
shares the shot with. Each kept face must be large enough ("small_face"), detected in enough
of its frames ("face_lost") and not turned too far ("head_pose", from `head_pose_deg`).
Pure: numpy over `FaceTrack`s. Imports: numpy, xdub.{face, config}, xdub.data.prepare.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xdub.config.prepare import FaceRules
from xdub.data.prepare.reasons import Rejected
from xdub.data.prepare.segments import Segment
from xdub.face.track import FaceTrack

# Nose-tip height between the eye line and the mouth-corner line of a frontal face
# (`xdub.face.landmarks.MEAN_SHAPE`: nose 0.698, corners 0.963 IODs below the eyes).
_FRONTAL_NOSE_HEIGHT = 0.698 / 0.963
# A face detected in fewer of a clip's frames is a passing face or a false detection: the clip
# counts as having no face ("no_face"); above it, `min_presence` decides ("face_lost").
MIN_FACE_SHARE = 0.5


@dataclass(frozen=True)
class FaceClip:
    """Frames [start, stop) of `segment` showing track `track` (a row range of that track)."""

    segment: Segment
    track: FaceTrack
    start: int
    stop: int
    other_faces: int  # other faces as large as this one in the same segment
    face_fraction: float  # mean face-box side / frame short side
    presence: float  # fraction of the clip's frames where the face was detected
    yaw_deg: float
    pitch_deg: float

    @property
    def rows(self) -> slice:
        """This clip's rows in the track's arrays."""
        return slice(self.start - self.track.first, self.stop - self.track.first)


def head_pose_deg(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rough (yaw, pitch) in degrees `[T]` x2 from xdub-68 landmarks `[T, 68, 2]`.

    Yaw: how far the nose tip sits off the middle of the jaw line (0 frontal, +-90 profile);
    pitch: how far it sits off its frontal height between the eye line and the mouth corners,
    both measured in the face's own (roll-free) axes. A filter heuristic, not a pose solver.
    """
    lm = landmarks.astype(np.float64)
    left, right = lm[:, 36:42].mean(1), lm[:, 42:48].mean(1)
    axis_x = right - left
    axis_x /= np.maximum(np.linalg.norm(axis_x, axis=1, keepdims=True), 1e-6)
    axis_y = np.stack([-axis_x[:, 1], axis_x[:, 0]], axis=1)  # image y points down
    eyes, nose = (left + right) / 2, lm[:, 30]
    mouth = (lm[:, 48] + lm[:, 54]) / 2

    def along(points: np.ndarray, axis: np.ndarray) -> np.ndarray:
        return np.einsum("td,td->t", points - eyes, axis)

    jaw_l, jaw_r, nose_x = along(lm[:, 0], axis_x), along(lm[:, 16], axis_x), along(nose, axis_x)
    half = np.maximum((jaw_r - jaw_l) / 2, 1e-6)
    yaw = np.degrees(np.arcsin(np.clip((nose_x - (jaw_l + jaw_r) / 2) / half, -1, 1)))
    height = along(nose, axis_y) / np.maximum(along(mouth, axis_y), 1e-6)
    pitch = np.degrees(np.arcsin(np.clip(2 * (height - _FRONTAL_NOSE_HEIGHT), -1, 1)))
    return yaw, pitch


def _detected(track: FaceTrack, segment: Segment) -> int:
    """Frames of `segment` where `track` was actually detected."""
    lo, hi = max(segment.start, track.first), min(segment.stop, track.last + 1)
    return int(track.present[lo - track.first: hi - track.first].sum()) if hi > lo else 0


def _sizes(track: FaceTrack, start: int, stop: int) -> float:
    boxes = track.boxes[start - track.first: stop - track.first]
    wh = np.clip(boxes[:, 2:] - boxes[:, :2], 0, None)
    return float(np.sqrt(wh[:, 0] * wh[:, 1]).mean())


def _check(segment: Segment, track: FaceTrack, others: int, short_side: int,
           min_frames: int, rules: FaceRules) -> FaceClip:
    """The FaceClip of `track` in `segment`, or Rejected with the first rule it breaks."""
    start, stop = max(segment.start, track.first), min(segment.stop, track.last + 1)
    if stop - start < min_frames:
        raise Rejected("face_lost", f"face in {max(stop - start, 0)} of {segment.num_frames} frames")
    rows = slice(start - track.first, stop - track.first)
    fraction = _sizes(track, start, stop) / short_side
    presence = float(track.present[rows].mean())
    seen = {"track": track.track_id, "face_fraction": round(fraction, 4)}
    if fraction < rules.min_face_fraction:
        raise Rejected("small_face", f"face {fraction:.2f} of the frame < {rules.min_face_fraction}",
                       **seen)
    if presence < rules.min_presence:
        raise Rejected("face_lost", f"face detected in {presence:.0%} of the frames", **seen)
    yaw, pitch = (0.0, 0.0)
    if track.landmarks is not None:
        yaws, pitches = head_pose_deg(track.landmarks[rows])
        yaw, pitch = float(np.median(yaws)), float(np.median(pitches))
    if abs(yaw) > rules.max_yaw_deg or abs(pitch) > rules.max_pitch_deg:
        raise Rejected("head_pose", f"yaw {yaw:.0f} deg, pitch {pitch:.0f} deg", **seen,
                       yaw_deg=round(yaw, 1), pitch_deg=round(pitch, 1))
    return FaceClip(segment, track, start, stop, others, fraction, presence, yaw, pitch)


def face_clips(segment: Segment, tracks: tuple[FaceTrack, ...], frame_size: tuple[int, int],
               min_frames: int, rules: FaceRules) -> list[FaceClip | Rejected]:
    """One entry per candidate face of `segment`: its FaceClip, or why it was rejected."""
    inside = [t for t in tracks if t.landmarks is not None
              and _detected(t, segment) >= MIN_FACE_SHARE * segment.num_frames]
    if not inside:
        # The largest face that was seen at all, for the report's face-size histogram.
        seen = [_sizes(t, max(segment.start, t.first), min(segment.stop, t.last + 1))
                for t in tracks if _detected(t, segment) > 0]
        extra = {"face_fraction": round(max(seen) / min(frame_size), 4)} if seen else {}
        return [Rejected("no_face", f"no face in {MIN_FACE_SHARE:.0%} of the frames", **extra)]
    sizes = [_sizes(t, max(segment.start, t.first), min(segment.stop, t.last + 1)) for t in inside]
    large = [t for t, s in zip(inside, sizes) if s >= rules.dominance * max(sizes)]
    if len(large) > 1 and not rules.one_per_track:
        return [Rejected("multiple_faces", f"{len(large)} faces of similar size")]
    out: list[FaceClip | Rejected] = []
    for track in sorted(large, key=lambda t: t.track_id):
        try:
            out.append(_check(segment, track, len(large) - 1, min(frame_size), min_frames, rules))
        except Rejected as reject:
            out.append(reject)
    return out
