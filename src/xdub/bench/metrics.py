"""Pixel-fidelity metrics of a dubbed clip against its exact answer, restricted to regions.

Pure numpy/cv2 functions over uint8 RGB frames `[T, H, W, 3]` (or one frame `[H, W, 3]`) and
boolean region masks `[T, H, W]` (or `[H, W]`, broadcast over frames):

- `psnr`: 10 log10(255^2 / MSE), the MSE pooled over every masked pixel and channel of the
  clip (so one all-black frame can't make the clip infinite), capped at `max_db`.
- `ssim`: Wang et al. 2004 SSIM with an 11x11 Gaussian window (sigma 1.5), population
  covariance, C1 = (0.01 L)^2, C2 = (0.03 L)^2, computed per channel and averaged, then
  averaged over the masked pixels (whole image: over the interior away from the window radius,
  as skimage does). Matches `skimage.metrics.structural_similarity(..., gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1)`.
- `frechet_distance`: the Frechet distance of two Gaussian fits to feature sets (the FID/FVD
  formula, given features from any user-supplied network; see `xdub.bench.perceptual`).

The `*_map` forms let a runner compute the per-pixel error once and pool it over many regions.
Imports: numpy, cv2, scipy.
"""

from __future__ import annotations

import cv2
import numpy as np

DATA_RANGE = 255.0  # uint8 frames
PSNR_MAX_DB = 100.0  # identical regions score this instead of +inf (keeps means finite)
SSIM_SIGMA = 1.5  # Gaussian window of Wang et al. 2004
SSIM_TRUNCATE = 3.5  # window radius = int(3.5 * 1.5 + 0.5) = 5 -> 11x11, as skimage
_K1, _K2 = 0.01, 0.03  # SSIM stabilisers (Wang et al. 2004)
_MAX_CV_CHANNELS = 510  # cv2 filters accept at most 512 channels per call


def _as_clip(frames: np.ndarray) -> np.ndarray:
    """`[H, W, 3]` or `[T, H, W, 3]` -> `[T, H, W, 3]` (a view)."""
    assert frames.ndim in (3, 4) and frames.shape[-1] == 3, (
        f"frames must be [H, W, 3] or [T, H, W, 3], got {frames.shape}"
    )
    return frames[None] if frames.ndim == 3 else frames


def _as_masks(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """Mask `[H, W]`, `[T, H, W]` or None (everything) -> bool `[T, H, W]` matching `shape`."""
    t, h, w = shape
    if mask is None:
        return np.ones((t, h, w), bool)
    mask = np.asarray(mask, bool)
    if mask.ndim == 2:
        mask = np.broadcast_to(mask, (t, h, w))
    assert mask.shape == (t, h, w), (
        f"mask must be [H, W] or [T, H, W] = {(t, h, w)}, got {mask.shape}"
    )
    return mask


def _check_pair(result: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    result, reference = _as_clip(result), _as_clip(reference)
    assert result.shape == reference.shape, (
        f"result {result.shape} and reference {reference.shape} must have the same shape"
    )
    return result, reference


# ---------------------------------------------------------------------------------------------
# PSNR
# ---------------------------------------------------------------------------------------------


def squared_error_map(result: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-pixel squared error summed over RGB: frames `[T, H, W, 3]` -> float32 `[T, H, W]`.

    Values are integers <= 3 * 255^2 < 2^24, so float32 holds them exactly.
    """
    result, reference = _check_pair(result, reference)
    out = np.empty(result.shape[:3], np.float32)
    for t in range(len(result)):  # per frame: int32 temporaries stay small on long clips
        diff = result[t].astype(np.int32) - reference[t].astype(np.int32)
        out[t] = np.einsum("hwc,hwc->hw", diff, diff)
    return out


def psnr_from_error(
    error: np.ndarray,
    mask: np.ndarray | None = None,
    max_db: float = PSNR_MAX_DB,
    channels: int = 3,
) -> float:
    """Clip PSNR from `squared_error_map` output `[T, H, W]`, pooled over `mask` (NaN if empty)."""
    mask = _as_masks(mask, error.shape)
    count = int(mask.sum()) * channels
    if count == 0:
        return float("nan")
    mse = float(error[mask].sum(dtype=np.float64)) / count
    if mse == 0.0:
        return max_db
    return min(max_db, 10.0 * np.log10(DATA_RANGE**2 / mse))


def psnr(
    result: np.ndarray,
    reference: np.ndarray,
    mask: np.ndarray | None = None,
    max_db: float = PSNR_MAX_DB,
) -> float:
    """PSNR (dB) of uint8 frames over the masked pixels of the whole clip; see module docstring."""
    return psnr_from_error(squared_error_map(result, reference), mask, max_db)


def psnr_per_frame(
    result: np.ndarray,
    reference: np.ndarray,
    mask: np.ndarray | None = None,
    max_db: float = PSNR_MAX_DB,
) -> np.ndarray:
    """PSNR of each frame over its own mask -> `[T]` (NaN where a frame's mask is empty)."""
    error = squared_error_map(result, reference)
    masks = _as_masks(mask, error.shape)
    return np.array([psnr_from_error(e[None], m[None], max_db) for e, m in zip(error, masks)])


# ---------------------------------------------------------------------------------------------
# SSIM
# ---------------------------------------------------------------------------------------------


def _gaussian_blur(stack: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian filter over H, W of `[H, W, K]` float64, scipy 'reflect' borders (= skimage)."""
    radius = int(SSIM_TRUNCATE * sigma + 0.5)
    size = 2 * radius + 1
    out = np.empty_like(stack)
    for start in range(0, stack.shape[2], _MAX_CV_CHANNELS):
        part = np.ascontiguousarray(stack[:, :, start : start + _MAX_CV_CHANNELS])
        blurred = cv2.GaussianBlur(
            part, (size, size), sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT
        )
        out[:, :, start : start + _MAX_CV_CHANNELS] = blurred.reshape(part.shape)
    return out


def ssim_map(
    result: np.ndarray, reference: np.ndarray, sigma: float = SSIM_SIGMA, block: int = 16
) -> np.ndarray:
    """Local SSIM averaged over RGB: frames `[T, H, W, 3]` (or `[H, W, 3]`) -> float32 `[T, H, W]`.

    Computed `block` frames at a time (float64 inside) to bound memory on long clips.
    """
    result, reference = _check_pair(result, reference)
    t, h, w, c = result.shape
    out = np.empty((t, h, w), np.float32)
    c1, c2 = (_K1 * DATA_RANGE) ** 2, (_K2 * DATA_RANGE) ** 2
    for start in range(0, t, block):
        n = min(block, t - start)
        # Frames and channels become cv2 channels: one separable blur call per block.
        x = result[start : start + n].transpose(1, 2, 0, 3).reshape(h, w, n * c).astype(np.float64)
        y = (
            reference[start : start + n]
            .transpose(1, 2, 0, 3)
            .reshape(h, w, n * c)
            .astype(np.float64)
        )
        mu_x, mu_y = _gaussian_blur(x, sigma), _gaussian_blur(y, sigma)
        var_x = _gaussian_blur(x * x, sigma) - mu_x * mu_x
        var_y = _gaussian_blur(y * y, sigma) - mu_y * mu_y
        cov = _gaussian_blur(x * y, sigma) - mu_x * mu_y
        local = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
            (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
        )
        out[start : start + n] = local.reshape(h, w, n, c).mean(axis=3).transpose(2, 0, 1)
    return out


def masked_mean(values: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean of a `[T, H, W]` map over a mask `[H, W]`/`[T, H, W]` (NaN if the mask is empty)."""
    mask = _as_masks(mask, values.shape)
    return float(values[mask].mean(dtype=np.float64)) if mask.any() else float("nan")


def interior_mask(shape: tuple[int, int], sigma: float = SSIM_SIGMA) -> np.ndarray:
    """`[H, W]` bool: pixels at least the SSIM window radius from the border."""
    pad = int(SSIM_TRUNCATE * sigma + 0.5)
    mask = np.zeros(shape, bool)
    mask[pad : shape[0] - pad, pad : shape[1] - pad] = True
    return mask


def ssim(
    result: np.ndarray,
    reference: np.ndarray,
    mask: np.ndarray | None = None,
    sigma: float = SSIM_SIGMA,
) -> float:
    """Mean SSIM over the masked pixels of a clip (no mask: the interior, as skimage)."""
    local = ssim_map(result, reference, sigma)
    if mask is None:
        mask = interior_mask(local.shape[1:], sigma)
    return masked_mean(local, mask)


def ssim_per_frame(
    result: np.ndarray,
    reference: np.ndarray,
    mask: np.ndarray | None = None,
    sigma: float = SSIM_SIGMA,
) -> np.ndarray:
    """Mean SSIM of each frame over its own mask -> `[T]` (NaN where empty)."""
    local = ssim_map(result, reference, sigma)
    if mask is None:
        mask = interior_mask(local.shape[1:], sigma)
    masks = _as_masks(mask, local.shape)
    return np.array([float(v[m].mean()) if m.any() else float("nan") for v, m in zip(local, masks)])


# ---------------------------------------------------------------------------------------------
# Distribution distance (FID / FVD formula)
# ---------------------------------------------------------------------------------------------


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of features `[N, D]` and `[M, D]`."""
    from scipy import linalg  # local: only needed when a feature network is plugged in

    assert features_a.ndim == 2 and features_b.ndim == 2, "features must be [N, D]"
    assert features_a.shape[1] == features_b.shape[1], "feature sizes differ"
    mu_a, mu_b = features_a.mean(0), features_b.mean(0)
    cov_a = np.atleast_2d(np.cov(features_a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(features_b, rowvar=False))
    root = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():
        # Near-singular product: nudge both covariances (the usual FID-reference fallback).
        eps = 1e-6 * np.eye(len(cov_a))
        root = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    root = np.real(root)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2.0 * root))
