"""How a dubbing checkpoint finds faces, shared by `xdub dub` and `xdub faces` (and the web
app's face list), so a track index listed by one is the track the other dubs.

`FaceFinder.detector(detect, frame_size, max_side, refine_landmarks, recognise)`: the detector
the face config names (built once per backend), on frames downscaled to `max_side`, its
landmarks moved by the checkpoint's landmark refiner (`landmarks/`, when it has one and the run
allows it); with `recognise` it also takes the detector's low-score boxes the refiner sees a face
in. `can_recognise(refine_landmarks)`: whether that second look is possible.
`find_tracks(track, ...)`: the rule both callers follow: one tracking pass with the detector,
and the second look only when that pass saw frames but found no face anywhere (so a title card
or a logo in a video that shows a face is never taken for one, and an empty span is not read
twice). Imports: xdub.{config, face, models}.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from xdub.config.face import DetectConfig
from xdub.config.landmarks import LandmarkRefineConfig
from xdub.face.detect import FaceDetector, create_detector
from xdub.face.refine import RefinedDetector
from xdub.models.landmark_net import LandmarkNet
from xdub.pipeline.faces import ScaledDetector

Track = TypeVar("Track")
FIRST_LOOK = "tracking faces"  # the progress titles of the two passes
SECOND_LOOK = "looking for faces the detector missed"


class FaceFinder:
    """Detectors as a checkpoint uses them (see the module docstring)."""

    def __init__(self, landmark_net: LandmarkNet | None = None,
                 refine: LandmarkRefineConfig | None = None,
                 detector: tuple[str, FaceDetector] | None = None) -> None:
        self.landmark_net = landmark_net  # the checkpoint's landmarks/ refiner, when enabled
        self.refine = refine or LandmarkRefineConfig()
        self._detectors: dict[str, FaceDetector] = dict([detector]) if detector else {}

    def detector(self, detect: DetectConfig, frame_size: tuple[int, int], max_side: int,
                 refine_landmarks: bool = True, recognise: bool = False) -> FaceDetector:
        """The detector for frames of `frame_size` (W, H); see the module docstring."""
        if detect.backend not in self._detectors:
            self._detectors[detect.backend] = create_detector(detect)
        detector = self._detectors[detect.backend]
        if max(frame_size) > max_side:
            detector = ScaledDetector(detector, max_side)
        if self.landmark_net is not None and refine_landmarks:  # on full-resolution frames
            refine = self.refine if recognise else replace(self.refine, fallback_score=0.0)
            detector = RefinedDetector(detector, self.landmark_net.predict,
                                       self.landmark_net.cfg.crop, refine, detect.min_face_px)
        return detector

    def can_recognise(self, refine_landmarks: bool = True) -> bool:
        """The landmark refiner may look for faces the detector missed."""
        return (self.landmark_net is not None and refine_landmarks
                and self.refine.fallback_score > 0)

    def find_tracks(self, track: Callable[[FaceDetector, str], tuple[list[Track], int]],
                    detect: DetectConfig, frame_size: tuple[int, int], max_side: int,
                    refine_landmarks: bool = True) -> tuple[list[Track], bool]:
        """`track(detector, title)` runs one tracking pass over the frames (`title`: what its
        progress says) and returns its tracks and how many frames it saw; the second look
        (`recognise`) only when the first saw frames but no face, and the refiner can look.
        Returns the tracks and whether they came from the second look."""
        tracks, seen = track(self.detector(detect, frame_size, max_side, refine_landmarks),
                             FIRST_LOOK)
        if tracks or not seen or not self.can_recognise(refine_landmarks):
            return tracks, False
        tracks, _ = track(self.detector(detect, frame_size, max_side, refine_landmarks,
                                        recognise=True), SECOND_LOOK)
        return tracks, True
