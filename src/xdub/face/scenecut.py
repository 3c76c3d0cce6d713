"""Shot-change detection from colour histograms of consecutive frames.

A cut changes the whole picture at once, so the HSV histogram of a small thumbnail jumps,
while head motion or lighting drift barely moves it. Tracks must not be bridged across a cut
(a different shot may show a different person in the same place). Imports: numpy, cv2.
"""

from __future__ import annotations

import cv2
import numpy as np

_THUMB = 96  # histogram of a small thumbnail: cheap at 1080p and ignores pixel noise
_BINS = [16, 8, 8]  # hue is the most shot-specific channel, so it gets the most bins


def hsv_histogram(frame: np.ndarray) -> np.ndarray:
    """Normalised HSV histogram `[16*8*8]` float32 of `frame: [H, W, 3]` uint8 RGB."""
    small = cv2.resize(frame, (_THUMB, _THUMB), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, _BINS, [0, 180, 0, 256, 0, 256])
    return (hist / max(float(hist.sum()), 1.0)).astype(np.float32).ravel()


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance in [0, 1] between two normalised histograms (0 = identical)."""
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


class SceneCutDetector:
    """Stateful: `is_cut(frame)` is True when `frame` starts a new shot."""

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        self._previous: np.ndarray | None = None
        self.last_distance = 0.0

    def is_cut(self, frame: np.ndarray) -> bool:
        """Compare with the previous frame given; the first frame is never a cut."""
        hist = hsv_histogram(frame)
        previous, self._previous = self._previous, hist
        if previous is None:
            return False
        self.last_distance = histogram_distance(previous, hist)
        return self.last_distance > self.threshold
