"""Mouth-opening measures and their correlation, on hand-drawn mouths with known openings."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from xdub.bench.opening import (
    opening_from_landmarks,
    opening_vs_closed,
    opening_vs_skin,
    partial_pearson,
    pearson,
)

SKIN = (225, 180, 150)


def _mouths(heights: np.ndarray, size: int = 64):
    """Frames with a dark mouth ellipse of half-height `heights[t]`, the closed version, zone."""
    frames, closed = [], []
    for h in heights:
        base = np.full((size, size, 3), SKIN, np.uint8)
        shut = base.copy()
        cv2.ellipse(shut, (32, 40), (12, 1), 0, 0, 360, (60, 20, 30), -1)
        cv2.ellipse(base, (32, 40), (12, max(1, int(h))), 0, 0, 360, (60, 20, 30), -1)
        frames.append(base)
        closed.append(shut)
    zone = np.zeros((len(heights), size, size), bool)
    zone[:, 26:56, 14:50] = True
    return np.stack(frames), np.stack(closed), zone


def test_opening_vs_closed_follows_the_drawn_opening():
    heights = np.array([1, 2, 4, 7, 9, 6, 3, 1, 5, 8], float)
    frames, closed, zone = _mouths(heights)
    opening = opening_vs_closed(frames, closed, zone)
    assert opening.shape == heights.shape
    assert pearson(opening, heights) > 0.97
    assert opening[0] == 0.0 and opening[4] > 0.1  # closed = the closed render
    hidden = np.zeros_like(zone)
    hidden[3] = True  # fully occluded frame: no visible region -> NaN
    assert np.isnan(opening_vs_closed(frames, closed, zone, hidden=hidden)[3])


def test_opening_vs_skin_needs_no_reference():
    heights = np.array([1, 3, 6, 9, 5, 2, 8, 4], float)
    frames, _, zone = _mouths(heights)
    assert pearson(opening_vs_skin(frames, zone), heights) > 0.9


def test_opening_from_landmarks():
    marks = np.zeros((2, 68, 2), np.float32)
    marks[:, 36:42] = (10.0, 0.0)
    marks[:, 42:48] = (30.0, 0.0)  # eye distance 20
    marks[1, [65, 66, 67], 1] = 4.0  # lower inner lip 4 px below the upper one
    assert opening_from_landmarks(marks) == pytest.approx([0.0, 0.2])


def test_pearson_edge_cases():
    signal = np.array([0.0, 1.0, 0.5, 0.2, 0.9])
    assert pearson(signal, signal) == pytest.approx(1.0)
    assert pearson(-signal, signal) == pytest.approx(-1.0)
    assert pearson(np.zeros(5), signal) == 0.0  # frozen result vs moving answer
    assert np.isnan(pearson(signal, np.zeros(5)))  # answer never moves: undefined
    valid = np.array([True, True, False, False, True])
    assert np.isnan(pearson(signal, signal, valid & [True, False, False, False, True]))
    assert pearson(signal, signal, valid) == pytest.approx(1.0)


def test_partial_pearson_separates_copying_from_shared_speech():
    """Input and answer lips share rhythm (r ~ 0.5 here), so a perfect dub correlates with the
    input too; given the answer, an honest dub scores ~0, a copier 1, the answer itself NaN."""
    rng = np.random.default_rng(0)
    answer = rng.normal(size=200)
    source = 0.6 * answer + 0.8 * rng.normal(size=200)
    honest = 0.9 * answer + 0.3 * rng.normal(size=200)
    assert pearson(honest, source) > 0.4
    assert abs(partial_pearson(honest, source, answer)) < 0.15
    assert partial_pearson(source, source, answer) == pytest.approx(1.0)
    half_copy = 0.7 * answer + 0.5 * source
    assert partial_pearson(half_copy, source, answer) > 0.9
    assert np.isnan(partial_pearson(answer, source, answer))
    valid = np.ones(200, bool)
    valid[:150] = False
    assert partial_pearson(source, source, answer, valid) == pytest.approx(1.0)
