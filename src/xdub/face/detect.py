"""Face detection with landmarks: the `FaceDetector` protocol, the built-in backends, a registry.

Backends (all offline, no downloads at run time):
- "mediapipe": BlazeFace detector + 468-point Face Mesh, bundled .tflite files run by
  ai-edge-litert (see `xdub.face.litert` for why TensorFlow is not needed). Landmarks are the
  mesh mapped to the xdub-68 layout (`xdub.face.landmarks`). Also a `LandmarkRefiner`: on
  frames where detection is skipped it re-fits the mesh from the previous frame's mesh.
- "haar": OpenCV's frontal-face Haar cascade (ships with opencv-python-headless). Boxes only;
  landmarks are the mean face placed in the box, which is LOW QUALITY (no pose, no mouth
  motion): enough to crop and track, not to judge lip sync. Used when no TFLite runtime exists.
Users add their own (InsightFace, DWPose, ... with their own weights) with
`register_detector(name, factory)`; factories take a `DetectConfig`.
Imports: numpy, cv2, xdub.config, xdub.errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from xdub.config.face import DetectConfig
from xdub.errors import ConfigError
from xdub.face import landmarks as lmk
from xdub.face.blazeface import BlazeFace
from xdub.face.facemesh import FaceMesh, Roi, roi_from_box, roi_from_mesh
from xdub.face.litert import runtime_available

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaceDetection:
    """One face in one frame, in frame pixels.

    `box: [4]` xyxy float32; `score` in [0, 1]; `landmarks: [68, 2]` (xdub-68 layout) or None;
    `mesh: [468, 2]` the raw MediaPipe mesh when the backend has one (lets trackers re-fit it).
    """

    box: np.ndarray
    score: float
    landmarks: np.ndarray | None = None
    mesh: np.ndarray | None = None

    @property
    def size(self) -> float:
        """Geometric mean of box width and height, in pixels."""
        return float(np.sqrt(max(self.box[2] - self.box[0], 0) * max(self.box[3] - self.box[1], 0)))


@runtime_checkable
class FaceDetector(Protocol):
    """Anything that finds faces: `detect(frame [H, W, 3] uint8 RGB) -> list[FaceDetection]`."""

    def detect(self, frame: np.ndarray) -> list[FaceDetection]:
        """Faces in `frame: [H, W, 3]` uint8 RGB (empty list when none)."""
        ...


@runtime_checkable
class LandmarkRefiner(Protocol):
    """A detector that can follow a known face without a full detection pass."""

    def refine(self, frame: np.ndarray, previous: FaceDetection) -> FaceDetection | None:
        """The same face in the next `frame`, or None if it is gone."""
        ...


@runtime_checkable
class CandidateSource(Protocol):
    """A detector that can also list places a face might be (boxes under its threshold)."""

    def candidates(self, frame: np.ndarray, model: str, min_score: float,
                   limit: int) -> list[FaceDetection]:
        """Up to `limit` candidate faces scoring `min_score` or more, best first."""
        ...


def _keep_largest(faces: list[FaceDetection], cfg: DetectConfig) -> list[FaceDetection]:
    """Drop tiny faces, keep the `max_faces` largest, largest first."""
    faces = [f for f in faces if f.size >= cfg.min_face_px]
    return sorted(faces, key=lambda f: -f.size)[: cfg.max_faces]


def _coarse(box: np.ndarray, score: float, keypoints: np.ndarray) -> FaceDetection:
    """A BlazeFace box with coarse landmarks from its eye, nose and mouth keypoints `[6, 2]`."""
    names = ("left_eye", "right_eye", "nose_tip", "mouth_centre")
    return FaceDetection(box.astype(np.float32), float(score),
                         lmk.landmarks_from_keypoints(keypoints[:4], names))


def box_of(points: np.ndarray) -> np.ndarray:
    """Axis-aligned bounding box `[4]` xyxy of `points: [N, 2]`."""
    return np.concatenate([points.min(0), points.max(0)]).astype(np.float32)


class MediaPipeDetector:
    """BlazeFace + Face Mesh detector (bundled MediaPipe models on ai-edge-litert)."""

    def __init__(self, cfg: DetectConfig | None = None) -> None:
        self.cfg = cfg or DetectConfig()
        self.blazeface = BlazeFace(self.cfg.model, self.cfg.min_score, self.cfg.nms_iou,
                                   self.cfg.num_threads)
        self.facemesh = FaceMesh(self.cfg.num_threads) if self.cfg.mesh else None
        self._candidate_models: dict[str, BlazeFace] = {self.cfg.model: self.blazeface}

    def candidates(self, frame: np.ndarray, model: str, min_score: float,
                   limit: int) -> list[FaceDetection]:
        """Up to `limit` BlazeFace boxes (its `model`: "short" or "full") scoring `min_score` or
        more, best first, with coarse landmarks from the detector's keypoints and no mesh:
        places a face *might* be, for a verifier to accept or reject (`xdub.face.refine`)."""
        if model not in self._candidate_models:
            self._candidate_models[model] = BlazeFace(model, self.cfg.min_score,
                                                      self.cfg.nms_iou, self.cfg.num_threads)
        raw = self._candidate_models[model].detect(frame, min_score=min_score)
        return [_coarse(box, score, kps)
                for box, score, kps in list(zip(raw.boxes, raw.scores, raw.keypoints))[:limit]]

    def _from_mesh(self, frame: np.ndarray, roi: Roi, score: float) -> FaceDetection | None:
        assert self.facemesh is not None
        mesh, presence = self.facemesh.run(frame, roi)
        if presence < self.cfg.mesh_min_score:
            return None
        # Box = the mesh's extent (forehead to chin, ear to ear), identical on detect and
        # refine frames, so box-based costs and smoothing see no backend switch.
        return FaceDetection(box_of(mesh), score, lmk.mesh_to_landmarks(mesh), mesh)

    def detect(self, frame: np.ndarray) -> list[FaceDetection]:
        """Faces in `frame: [H, W, 3]` uint8 RGB, largest first."""
        raw = self.blazeface.detect(frame)
        faces: list[FaceDetection] = []
        for box, score, kps in zip(raw.boxes, raw.scores, raw.keypoints):
            face = None
            if self.facemesh is not None:
                face = self._from_mesh(frame, roi_from_box(box, kps[0], kps[1]), float(score))
            faces.append(face if face is not None else _coarse(box, score, kps))
        return _keep_largest(faces, self.cfg)

    def refine(self, frame: np.ndarray, previous: FaceDetection) -> FaceDetection | None:
        """Re-fit the mesh where `previous` was (one frame earlier); None if the face is gone."""
        if self.facemesh is None:
            return None
        if previous.mesh is not None:
            roi = roi_from_mesh(previous.mesh)
        elif previous.landmarks is not None:
            kp = lmk.keypoints(previous.landmarks)
            roi = roi_from_box(previous.box, kp[0], kp[1])
        else:
            return None
        face = self._from_mesh(frame, roi, previous.score)
        return face if face is not None and face.size >= self.cfg.min_face_px else None


# Mean face placement in a Haar box, measured by us on the astronaut photo and a talking-head
# clip: the inter-ocular distance is 0.3925 box widths and the eye midpoint sits 0.113 box widths
# above the box centre.
_HAAR_IOD, _HAAR_EYE_Y = 0.3925, -0.1132


class HaarDetector:
    """OpenCV Haar-cascade boxes with mean-face landmarks (low quality; no TFLite needed)."""

    def __init__(self, cfg: DetectConfig | None = None, max_side: int = 480) -> None:
        self.cfg = cfg or DetectConfig()
        self.max_side = max_side  # detect on a downscaled frame: Haar cost grows with area
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise ConfigError(f"OpenCV Haar cascade not found at {path}")

    def detect(self, frame: np.ndarray) -> list[FaceDetection]:
        """Faces in `frame: [H, W, 3]` uint8 RGB, largest first."""
        scale = min(1.0, self.max_side / max(frame.shape[:2]))
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        # Faces under ~20 px of the downscaled frame are too small to dub; skipping those
        # pyramid levels is most of the speed.
        min_px = max(20, int(self.cfg.min_face_px * scale))
        neighbours = 5
        rects, counts = cv2.CascadeClassifier.detectMultiScale2(
            self.cascade, gray, scaleFactor=1.15, minNeighbors=neighbours, minSize=(min_px, min_px))
        faces = []
        for (x, y, w, h), n in zip(np.asarray(rects).reshape(-1, 4), np.asarray(counts).ravel()):
            box = np.array([x, y, x + w, y + h], np.float32) / scale
            width = box[2] - box[0]
            affine = np.array([[_HAAR_IOD * width, 0, (box[0] + box[2]) / 2],
                               [0, _HAAR_IOD * width, (box[1] + box[3]) / 2 + _HAAR_EYE_Y * width]])
            score = float(n) / (float(n) + neighbours)  # more merged hits -> surer; not calibrated
            if score >= self.cfg.min_score:
                coarse = lmk.transform_points(lmk.MEAN_SHAPE, affine)
                faces.append(FaceDetection(box, score, coarse))
        return _keep_largest(faces, self.cfg)


DetectorFactory = Callable[[DetectConfig], FaceDetector]
DETECTORS: dict[str, DetectorFactory] = {
    "mediapipe": MediaPipeDetector,
    "haar": HaarDetector,
}


def register_detector(name: str, factory: DetectorFactory) -> None:
    """Make a detector selectable by name (`DetectConfig.backend`, CLI `--detector`)."""
    DETECTORS[name] = factory


def create_detector(cfg: DetectConfig | None = None) -> FaceDetector:
    """Build the configured backend; "mediapipe" falls back to "haar" without a TFLite runtime."""
    cfg = cfg or DetectConfig()
    if cfg.backend not in DETECTORS:
        raise ConfigError(f"unknown face detector {cfg.backend!r}; choose from {sorted(DETECTORS)}")
    if cfg.backend == "mediapipe" and not runtime_available():
        log.warning("no TFLite runtime (pip install ai-edge-litert): using the Haar detector")
        return DETECTORS["haar"](cfg)
    return DETECTORS[cfg.backend](cfg)
