"""Flicker, temporal error and the seam index on hand-made clips with known jumps."""

from __future__ import annotations

import numpy as np
import pytest

from xdub.bench.temporal import (
    chunk_starts,
    flicker_ratio,
    frame_differences,
    jump_index,
    seam_index,
    temporal_error,
    temporal_mad,
)


def _moving_clip(num: int = 24, size: int = 32) -> np.ndarray:
    """A gradient drifting one pixel per frame: steady, small frame-to-frame change."""
    x = np.arange(size)[None, :] + np.arange(num)[:, None]
    ramp = (x * 6 % 256).astype(np.uint8)  # [T, W]
    frames = np.broadcast_to(ramp[:, None, :, None], (num, size, size, 3))
    return np.ascontiguousarray(frames)


def test_seam_index_detects_an_injected_jump_at_a_boundary():
    answer = _moving_clip()
    result = answer.copy()
    result[12:] = np.clip(result[12:].astype(int) + 40, 0, 255).astype(np.uint8)  # chunk 2 brighter
    assert seam_index(result, [12], reference=answer) > 20
    assert seam_index(result, [12]) > 1.5  # without the answer the jump still stands out
    assert seam_index(result, [6], reference=answer) < 1.1  # a boundary with no jump
    assert seam_index(answer, [12], reference=answer) == pytest.approx(1.0)  # 0/0 -> 1
    assert jump_index(result, reference=answer) > 20  # found without knowing the boundary
    assert np.isnan(seam_index(result, [], reference=answer))


def test_frame_differences_and_flicker():
    answer = _moving_clip()
    steps = frame_differences(answer)
    assert steps.shape == (len(answer) - 1,) and (steps > 0).all()
    rng = np.random.default_rng(0)
    noisy = np.clip(answer + rng.integers(-20, 21, answer.shape), 0, 255).astype(np.uint8)
    assert flicker_ratio(answer, answer) == pytest.approx(1.0)
    assert flicker_ratio(noisy, answer) > 1.5
    frozen = np.repeat(answer[:1], len(answer), axis=0)
    assert flicker_ratio(frozen, answer) == pytest.approx(0.0)
    assert temporal_error(answer, answer) == 0.0
    assert temporal_error(noisy, answer) > 5
    assert temporal_mad(frozen) == 0.0


def test_region_masks_restrict_temporal_metrics():
    answer = _moving_clip()
    result = answer.copy()
    result[:, :, 16:] = np.clip(
        result[:, :, 16:] + np.arange(len(answer))[:, None, None, None] % 2 * 50, 0, 255
    ).astype(np.uint8)  # flicker on the right half only
    left = np.zeros(answer.shape[1:3], bool)
    left[:, :16] = True
    assert temporal_error(result, answer, left) == 0.0
    assert temporal_error(result, answer, ~left) > 10


def test_chunk_starts():
    assert chunk_starts(100, 40) == [40, 80]
    assert chunk_starts(100, 40, overlap=10) == [30, 60, 90]
    assert chunk_starts(30, 40) == []
