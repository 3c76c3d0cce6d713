"""Detection backends, landmark layout, registry and fallback."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data

from xdub.config.face import DetectConfig
from xdub.errors import ConfigError
from xdub.face import detect as detect_mod
from xdub.face import landmarks as lmk
from xdub.face.blazeface import ssd_anchors
from xdub.face.detect import (
    DETECTORS,
    FaceDetection,
    FaceDetector,
    HaarDetector,
    create_detector,
    register_detector,
)


def test_face_mediapipe_finds_the_astronaut_with_plausible_landmarks(astronaut_face):
    face = astronaut_face
    assert face.score > 0.8 and face.landmarks is not None and face.mesh is not None
    assert face.landmarks.shape == (68, 2) and face.mesh.shape == (468, 2)
    x0, y0, x1, y1 = face.box
    assert 160 < x0 < 200 and 250 < x1 < 290 and 50 < y0 < 90 and 150 < y1 < 190
    kp = lmk.keypoints(face.landmarks)
    # Positions read off the photo by hand (pixels): eyes, nose tip, mouth corners, chin.
    expected = np.array([[204, 101], [246, 104], [223, 129], [201, 139], [246, 143], [221, 172]])
    assert np.abs(kp - expected).max() < 8
    eye_l, eye_r, nose, mouth_l, mouth_r, chin = kp
    assert eye_l[0] < eye_r[0] and mouth_l[0] < mouth_r[0]
    assert max(eye_l[1], eye_r[1]) < nose[1] < min(mouth_l[1], mouth_r[1]) < chin[1]


@pytest.mark.parametrize("image", ["coffee", "uniform", "noise"])
def test_face_detectors_return_nothing_without_a_face(detector, image):
    frame = {
        "coffee": skimage.data.coffee(),
        "uniform": np.full((240, 320, 3), 128, np.uint8),
        "noise": np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8),
    }[image]
    assert detector.detect(frame) == []
    assert HaarDetector().detect(frame) == []


def test_face_haar_fallback_boxes_and_coarse_landmarks(astronaut, astronaut_face):
    faces = HaarDetector().detect(astronaut)
    assert len(faces) == 1 and faces[0].landmarks is not None
    kp, ref = lmk.keypoints(faces[0].landmarks), lmk.keypoints(astronaut_face.landmarks)
    # Low quality by design (mean face, no expression), but within 0.3 IOD of the mesh.
    assert np.abs(kp - ref).max() < 0.3 * lmk.interocular(ref)


def test_face_refine_follows_a_moved_face(detector, astronaut, astronaut_face):
    shifted = np.roll(astronaut, (6, -4), axis=(0, 1))
    refined = detector.refine(shifted, astronaut_face)
    assert refined is not None
    moved = refined.landmarks - astronaut_face.landmarks
    assert np.allclose(np.median(moved, axis=0), [-4, 6], atol=1.5)
    assert detector.refine(np.zeros_like(astronaut), astronaut_face) is None


def test_face_registry_custom_detector_and_fallback(monkeypatch):
    class Fixed:
        def __init__(self, cfg: DetectConfig) -> None:
            self.cfg = cfg

        def detect(self, frame: np.ndarray) -> list[FaceDetection]:
            return [FaceDetection(np.array([1, 2, 30, 40], np.float32), 1.0, None)]

    monkeypatch.setitem(DETECTORS, "fixed", Fixed)
    register_detector("fixed", Fixed)
    det = create_detector(DetectConfig(backend="fixed"))
    assert isinstance(det, FaceDetector) and det.detect(np.zeros((4, 4, 3), np.uint8))[0].size > 0
    with pytest.raises(ConfigError, match="unknown face detector"):
        create_detector(DetectConfig(backend="nope"))
    monkeypatch.setattr(detect_mod, "runtime_available", lambda: False)
    assert isinstance(create_detector(DetectConfig(backend="mediapipe")), HaarDetector)


def test_face_landmark_layout_tables():
    assert lmk.MESH_TO_68.shape == (68,) and len(set(lmk.MESH_TO_68.tolist())) == 68
    assert (lmk.FLIP_68[lmk.FLIP_68] == np.arange(68)).all()
    mirrored = lmk.MEAN_SHAPE[lmk.FLIP_68] * [-1, 1]
    assert np.allclose(mirrored, lmk.MEAN_SHAPE, atol=1e-3)  # the mean face is symmetric
    kp = lmk.keypoints(lmk.MEAN_SHAPE)
    assert np.allclose(kp[:2], [[-0.5, 0], [0.5, 0]], atol=1e-3)  # face units: IOD 1
    assert lmk.keypoint(lmk.MEAN_SHAPE, "chin")[1] > lmk.keypoint(lmk.MEAN_SHAPE, "nose_tip")[1]
    # A few named points are enough to place the whole layout.
    placed = lmk.landmarks_from_keypoints(kp[:3] * 50 + 100, lmk.KEYPOINT_NAMES[:3])
    assert np.allclose(placed, lmk.MEAN_SHAPE * 50 + 100, atol=1e-3)



def test_face_coarse_landmarks_put_the_mouth_on_the_detected_mouth():
    """A face whose mouth sits lower than a human's (a frog): with the detector's mouth keypoint
    the fitted mouth lands on it; eyes and nose alone put it on the nose (issue #12)."""
    kp = lmk.keypoints(lmk.MEAN_SHAPE)
    eyes_nose = kp[:3] * 50 + 100
    human_mouth = (kp[3] + kp[4]) / 2 * 50 + 100
    low_mouth = human_mouth + [0.0, 20.0]
    names = ("left_eye", "right_eye", "nose_tip", "mouth_centre")
    same = lmk.landmarks_from_keypoints(np.vstack([eyes_nose, human_mouth]), names)
    assert np.allclose(same, lmk.MEAN_SHAPE * 50 + 100, atol=1e-3)
    frog = lmk.landmarks_from_keypoints(np.vstack([eyes_nose, low_mouth]), names)
    centre = (lmk.keypoint(frog, "mouth_left") + lmk.keypoint(frog, "mouth_right")) / 2
    assert np.allclose(centre, low_mouth, atol=1.0)
    assert np.allclose(lmk.keypoints(frog)[:2], eyes_nose[:2], atol=1.0)


def test_face_ssd_anchor_counts_match_the_models():
    assert ssd_anchors(128, (8, 16, 16, 16), 2).shape == (896, 2)
    assert ssd_anchors(192, (4,), 1).shape == (2304, 2)
