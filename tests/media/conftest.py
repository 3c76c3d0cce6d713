"""Shared fixtures for xdub.media tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from media_helpers import encode_clip, gradient_frames, sine


@pytest.fixture(scope="session")
def clip_25(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """A 25-fps 2-second 64x48 H.264 mp4 with a 440 Hz tone, and its source frames."""
    frames = gradient_frames(50)
    path = tmp_path_factory.mktemp("clips") / "clip25.mp4"
    encode_clip(path, frames, fps=25, audio=sine(440, 2.0, 48_000))
    return path, frames
