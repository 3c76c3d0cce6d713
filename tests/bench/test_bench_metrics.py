"""Region PSNR/SSIM against skimage, the PSNR cap, and the Frechet distance."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from xdub.bench.metrics import (
    PSNR_MAX_DB,
    frechet_distance,
    interior_mask,
    psnr,
    psnr_per_frame,
    ssim,
    ssim_map,
    ssim_per_frame,
)


def _noisy_pair(seed: int = 0, shape=(3, 40, 52, 3), noise: int = 25):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, shape, dtype=np.uint8)
    other = np.clip(base.astype(int) + rng.integers(-noise, noise + 1, shape), 0, 255)
    return base, other.astype(np.uint8)


def _sk_ssim(a: np.ndarray, b: np.ndarray, full: bool = False):
    return structural_similarity(
        a,
        b,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        channel_axis=-1,
        full=full,
    )


def test_psnr_matches_skimage_per_frame_and_clip():
    a, b = _noisy_pair()
    for t in range(len(a)):
        assert psnr(a[t], b[t]) == pytest.approx(
            peak_signal_noise_ratio(a[t], b[t], data_range=255)
        )
    # Clip PSNR pools the MSE over every frame: same as skimage on the stacked frames.
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255))
    assert psnr_per_frame(a, b) == pytest.approx(
        [peak_signal_noise_ratio(x, y, data_range=255) for x, y in zip(a, b)]
    )


def test_psnr_region_restriction_ignores_pixels_outside_the_mask():
    a, b = _noisy_pair(1)
    mask = np.zeros(a.shape[:3], bool)
    mask[:, 10:20, 5:30] = True
    b_far = b.copy()
    b_far[~mask] = 255 - a[~mask]  # huge errors only outside the region
    expected = peak_signal_noise_ratio(a[mask], b[mask], data_range=255)
    assert psnr(a, b_far, mask) == pytest.approx(expected)
    assert psnr(a, b_far) < expected - 10  # the unrestricted PSNR does see them
    assert np.isnan(psnr(a, b, np.zeros_like(mask)))  # empty region: not applicable


def test_identical_regions_score_the_cap():
    a, _ = _noisy_pair(2)
    assert psnr(a, a) == PSNR_MAX_DB
    assert ssim(a, a) == pytest.approx(1.0)


def test_ssim_matches_skimage_mean_and_map():
    a, b = _noisy_pair(3)
    for t in range(len(a)):
        mean, full = _sk_ssim(a[t], b[t], full=True)
        assert ssim(a[t], b[t]) == pytest.approx(mean, abs=1e-6)
        ours = ssim_map(a[t], b[t])[0]
        assert np.abs(ours - full.mean(axis=-1)).max() < 1e-5
    assert ssim_per_frame(a, b) == pytest.approx([_sk_ssim(x, y) for x, y in zip(a, b)], abs=1e-6)


def test_ssim_region_restriction_is_the_masked_map_mean():
    a, b = _noisy_pair(4)
    b = b.copy()
    b[:, :, 30:] = 255 - b[:, :, 30:]  # wreck the right side only
    mask = np.zeros(a.shape[1:3], bool)
    mask[8:30, 6:22] = True  # away from the wrecked part by more than the window radius
    _, full = _sk_ssim(a[0], b[0], full=True)
    assert ssim(a[0], b[0], mask) == pytest.approx(full.mean(axis=-1)[mask].mean(), abs=1e-6)
    assert ssim(a, b, mask) > ssim(a, b) + 0.2  # the region does not see the wreck
    assert interior_mask((20, 30)).sum() == (20 - 10) * (30 - 10)


def test_frechet_distance_of_shifted_gaussians():
    rng = np.random.default_rng(5)
    feats = rng.normal(size=(4000, 3))
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-6)
    shift = np.array([1.0, -2.0, 0.5])
    # Same covariance, shifted mean: the distance is the squared mean difference.
    assert frechet_distance(feats, feats + shift) == pytest.approx(float(shift @ shift), rel=1e-3)
