"""Landmark refinement: re-place a detector's landmarks with a learned refiner, and find faces
the detector scored too low.

A refiner sees one face crop cut where the current landmarks put the face (an `AlignConfig`
of its own, normally the whole head) and returns the 68 landmarks in that crop plus the
probability that the crop holds a face; mapping the points back gives new frame landmarks, and
the next pass starts from those (`refine_landmarks`). `RefinedDetector` applies it to every
detection of a detector, so tracking, alignment and the paste mask all use the refined points.
Where the detector finds no face, it can try the detector's low-score candidates
(`CandidateSource`): each is refined from its coarse landmarks and kept if the refiner then
sees a face (`LandmarkRefineConfig.fallback_score`). The network lives in
`xdub.models.landmark_net`; here it is any `Predict` callable, so this module stays free of
torch. Why (issue #12): see `xdub.config.landmarks`.
Imports: numpy, xdub.{config, face}.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from xdub.config.face import AlignConfig
from xdub.config.landmarks import LandmarkRefineConfig
from xdub.face.align import estimate_alignment, invert, template_landmarks, warp_to_crop
from xdub.face.detect import (
    CandidateSource,
    FaceDetection,
    FaceDetector,
    LandmarkRefiner,
    box_of,
)
from xdub.face.landmarks import eye_offset, interocular, transform_points

# (crops [N, S, S, 3] uint8, template [68, 2]) -> (landmarks [N, 68, 2] crop pixels, presence [N])
Predict = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
SAME_PLACE_IOD = 0.5  # fallback faces whose eyes are closer than this are one face


def refiner_crop(frame: np.ndarray, landmarks: np.ndarray, crop: AlignConfig
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The refiner's input crop `[S, S, 3]` placed by `landmarks` `[68, 2]` (or keypoints
    `[6, 2]`), and its frame->crop affine `[2, 3]`."""
    affine = estimate_alignment(landmarks, crop.crop_size, crop)
    return warp_to_crop(frame, affine, crop.crop_size, crop.interpolation), affine


def refine_landmarks(predict: Predict, frame: np.ndarray, landmarks: np.ndarray,
                     crop: AlignConfig, passes: int) -> tuple[np.ndarray, float]:
    """`landmarks` `[68, 2]` frame pixels re-placed by the refiner, `passes` times (each pass
    crops where the previous one put the face): `[68, 2]` float32, and the face presence the
    refiner saw in the last pass's crop."""
    template = template_landmarks(crop.crop_size, crop)
    presence = 0.0
    for _ in range(passes):
        image, affine = refiner_crop(frame, landmarks, crop)
        points, present = predict(image[None], template)
        landmarks, presence = transform_points(points[0], invert(affine)), float(present[0])
    return landmarks, presence


class RefinedDetector:
    """A detector whose detections carry refined landmarks (box, score and mesh unchanged: the
    tracker's association and the mesh re-fit keep working as before), and which, where the
    detector finds nothing, may accept low-score candidates the refiner recognises as faces."""

    def __init__(self, detector: FaceDetector, predict: Predict, crop: AlignConfig,
                 cfg: LandmarkRefineConfig, min_face_px: float = 0.0) -> None:
        self.detector, self.predict, self.crop, self.cfg = detector, predict, crop, cfg
        self.min_face_px = min_face_px  # recognised faces smaller than this are dropped, as the
        #   detector drops its own (`DetectConfig.min_face_px`)

    def _refined(self, frame: np.ndarray, face: FaceDetection) -> FaceDetection:
        if face.landmarks is None:
            return face
        moved, _ = refine_landmarks(self.predict, frame, face.landmarks, self.crop,
                                    self.cfg.passes)
        return replace(face, landmarks=moved)

    def recognise(self, frame: np.ndarray) -> list[FaceDetection]:
        """The detector's low-score candidates the refiner sees a face in, one per place, with
        the presence as score and the refined landmarks' extent as box."""
        if not self.cfg.fallback_score or not isinstance(self.detector, CandidateSource):
            return []
        found: list[tuple[float, np.ndarray]] = []
        for candidate in self.detector.candidates(frame, self.cfg.fallback_model,
                                                  self.cfg.fallback_score,
                                                  self.cfg.fallback_candidates):
            if candidate.landmarks is None:
                continue
            moved, presence = refine_landmarks(self.predict, frame, candidate.landmarks,
                                               self.crop, self.cfg.fallback_passes)
            if presence >= self.cfg.min_presence:
                found.append((presence, moved))
        kept: list[tuple[float, np.ndarray]] = []
        for presence, moved in sorted(found, key=lambda f: -f[0]):
            if all(eye_offset(moved, other) > SAME_PLACE_IOD * interocular(other)
                   for _, other in kept):
                kept.append((presence, moved))
        faces = [FaceDetection(box_of(moved), presence, moved) for presence, moved in kept]
        return [face for face in faces if face.size >= self.min_face_px]

    def detect(self, frame: np.ndarray) -> list[FaceDetection]:
        """Faces in `frame: [H, W, 3]` uint8 RGB, landmarks refined; where the detector finds
        none, the candidates the refiner recognises (when the fallback is on)."""
        faces = self.detector.detect(frame)
        if not faces:
            return self.recognise(frame)
        return [self._refined(frame, face) for face in faces]

    def refine(self, frame: np.ndarray, previous: FaceDetection) -> FaceDetection | None:
        """Follow `previous` into `frame` when the wrapped detector can (else None)."""
        if not isinstance(self.detector, LandmarkRefiner):
            return None
        found = self.detector.refine(frame, previous)
        return None if found is None else self._refined(frame, found)
