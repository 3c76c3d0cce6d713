"""Shared fixtures for xdub.face tests."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data

from xdub.config.face import DetectConfig
from xdub.face.detect import FaceDetection, MediaPipeDetector


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut photo `[512, 512, 3]` uint8 (public domain, one frontal face)."""
    return skimage.data.astronaut()


@pytest.fixture(scope="session")
def detector() -> MediaPipeDetector:
    return MediaPipeDetector(DetectConfig())


@pytest.fixture(scope="session")
def astronaut_face(detector, astronaut) -> FaceDetection:
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    return faces[0]
