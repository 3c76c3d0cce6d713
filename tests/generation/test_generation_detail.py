"""`xdub.generation.detail`: a soft generated region gets the real frames' detail, no more."""

from __future__ import annotations

import cv2
import numpy as np

from xdub.generation.detail import detail_energy, sharpen_to_match


def _clip(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Real textured frames, a blurred copy (a regression's soft mouth) and a centre region."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (3, 16, 16, 3)).astype(np.uint8)
    real = np.stack([cv2.resize(f, (64, 64), interpolation=cv2.INTER_CUBIC) for f in small])
    soft = np.stack([cv2.GaussianBlur(f, (0, 0), 1.5) for f in real])
    region = np.zeros((3, 64, 64), np.float32)
    region[:, 16:48, 16:48] = 1.0
    return real, soft, region


def test_a_soft_region_gets_the_detail_of_the_real_one():
    real, soft, region = _clip()
    inside = region > 0.5
    assert detail_energy(soft, inside) < 0.5 * detail_energy(real, inside)
    sharp, amount = sharpen_to_match(soft, real, region)
    assert amount > 0.5
    np.testing.assert_allclose(detail_energy(sharp, inside), detail_energy(real, inside), rtol=0.02)
    again, same = sharpen_to_match(soft, real, region)
    assert same == amount and np.array_equal(again, sharp)  # deterministic


def test_an_already_detailed_region_is_left_as_it_is():
    real, soft, region = _clip(1)
    out, amount = sharpen_to_match(real, soft, region)
    assert amount == 0.0 and out is real
    empty = np.zeros_like(region)
    assert detail_energy(real, empty > 0.5) == 0.0
    assert sharpen_to_match(soft, real, empty)[1] == 0.0  # no region: nothing to match
