"""Steps 4 and 6 (second pass): aligned face crops of every planned clip, and quality samples.

The crops come from `xdub.conditioning.crop_frame` with affines from
`xdub.face.align.estimate_alignments` over the track's landmarks: exactly the geometry and the
warp of training (`xdub.conditioning.prepare_face_crops`) and dubbing, so prepared clips and
the pipeline's crops cannot drift apart. One decode of the video feeds every clip (clips of
two faces in one shot overlap in time); each clip is yielded as soon as its last frame is in,
and decoding stops after the last clip. Imports: numpy, xdub.{conditioning, face, media}.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xdub.conditioning import crop_frame
from xdub.config.face import AlignConfig
from xdub.data.prepare.faces import FaceClip
from xdub.data.prepare.quality import SAMPLE_EVERY, blockiness, crop_scores, quality_scores
from xdub.face.align import estimate_alignments
from xdub.face.landmarks import transform_points
from xdub.media import iter_frames


@dataclass(frozen=True)
class CroppedClip:
    """`crops: [T, S, S, 3]` uint8, `landmarks: [T, 68, 2]` and `boxes: [T, 4]` in crop pixels,
    `affines: [T, 2, 3]` frame->crop, and the clip's quality scores."""

    face: FaceClip
    crops: np.ndarray
    landmarks: np.ndarray
    boxes: np.ndarray
    affines: np.ndarray
    quality: dict


def _crop_boxes(boxes: np.ndarray, affines: np.ndarray) -> np.ndarray:
    """Face boxes `[T, 4]` moved into crop pixels (centre mapped, sides scaled)."""
    centres = np.stack([transform_points((b[:2] + b[2:]) / 2, a) for b, a in zip(boxes, affines)])
    scale = np.hypot(affines[:, 0, 0], affines[:, 1, 0])[:, None]
    half = (boxes[:, 2:] - boxes[:, :2]) / 2 * scale
    return np.concatenate([centres - half, centres + half], axis=1).astype(np.float32)


class _Building:
    """A clip whose crops are being collected."""

    def __init__(self, face: FaceClip, align: AlignConfig, fps: float) -> None:
        self.face = face
        self.landmarks = face.track.landmarks[face.rows]
        self.boxes = face.track.boxes[face.rows]
        self.affines = estimate_alignments(self.landmarks, align.crop_size, align, fps)
        self.crops: list[np.ndarray] = []
        self.scores: list[tuple[float, float, float]] = []
        self.blocks: list[float] = []

    def add(self, frame: np.ndarray, align: AlignConfig) -> None:
        row = len(self.crops)
        crop = crop_frame(frame, self.affines[row], align.crop_size, align.interpolation)
        self.crops.append(crop)
        if row % SAMPLE_EVERY == 0:
            self.scores.append(crop_scores(crop))
            self.blocks.append(blockiness(frame, self.boxes[row]))

    def finish(self) -> CroppedClip:
        lm = np.stack([transform_points(p, a) for p, a in zip(self.landmarks, self.affines)])
        return CroppedClip(self.face, np.stack(self.crops), lm.astype(np.float32),
                           _crop_boxes(self.boxes, self.affines), self.affines.astype(np.float32),
                           quality_scores(self.scores, self.blocks))


def crop_clips(path: Path, clips: list[FaceClip], align: AlignConfig,
               fps: float) -> Iterator[CroppedClip]:
    """Crops of `clips` from one decode of `path` at `fps`, each yielded when complete."""
    if not clips:
        return
    pending = sorted(clips, key=lambda c: (c.start, c.track.track_id))
    active: list[_Building] = []
    last = max(c.stop for c in clips)
    for i, frame in enumerate(iter_frames(path, fps=fps)):
        while pending and pending[0].start == i:
            active.append(_Building(pending.pop(0), align, fps))
        for building in active:
            building.add(frame, align)
        for building in [b for b in active if b.face.stop == i + 1]:
            active.remove(building)
            yield building.finish()
        if i + 1 >= last:
            return
