"""Mouth-opening signals measured on images, and their agreement between result and answer.

A dubbed mouth should open and close when the answer's does. We measure a per-frame opening
signal on the result and on the answer with the SAME image measure, and report their Pearson
correlation over the frames where the mouth is visible (1 = in step, ~0 = unrelated motion).

Measures (all `[T]`, frames `[T, H, W, 3]` uint8, region `[T, H, W]` bool = mouth region):

- `opening_vs_closed` (used by the benchmark; exact scenes only): the synthetic engine can
  re-render the very same scene with a closed mouth (`closed: [T, H, W, 3]`), so
  opening_t = #{p in region_t : max_c |x_t(p) - closed_t(p)| > thr} / #region_t.
  Style-, species- and lighting-independent: on engine clips it correlates 0.94-0.95 (worst
  clip 0.87) with the landmark lip gap in every scenario.
- `opening_vs_skin` (any video, no reference): the region's border ring is taken as skin
  (median colour); pixels farther than max(30, 3 x the ring's median distance) are lips or
  mouth interior, and opening_t = minor-axis std of that blob / sqrt(#region_t). Good on
  human faces (~0.93), weak on muzzles/fur where the ring is not one colour (~0.45).
- `opening_from_landmarks`: mean inner-lip gap (iBUG points 61-67, 62-66, 63-65) divided by
  the distance between the eye centres (36-41, 42-47), for when landmarks are known.
Imports: numpy, cv2.
"""

from __future__ import annotations

import cv2
import numpy as np

DIFF_THRESHOLD = 24  # grey levels: above codec/blur noise, far below lip-vs-cavity contrast
MIN_REGION_PX = 20  # frames with fewer visible region pixels get NaN


def _check(frames: np.ndarray, region: np.ndarray) -> None:
    assert frames.ndim == 4 and frames.shape[-1] == 3, (
        f"frames must be [T, H, W, 3], got {frames.shape}"
    )
    assert region.shape == frames.shape[:3], f"region must be [T, H, W], got {region.shape}"


def opening_vs_closed(
    frames: np.ndarray,
    closed: np.ndarray,
    region: np.ndarray,
    hidden: np.ndarray | None = None,
    threshold: int = DIFF_THRESHOLD,
) -> np.ndarray:
    """Fraction of the mouth region that differs from the closed-mouth render -> `[T]`.

    `hidden: [T, H, W]` bool (e.g. occluders) is left out of both counts.
    """
    _check(frames, region)
    assert closed.shape == frames.shape, "closed must match frames"
    visible = region if hidden is None else region & ~hidden
    out = np.full(len(frames), np.nan)
    for t in range(len(frames)):
        count = int(visible[t].sum())
        if count < MIN_REGION_PX:
            continue
        diff = cv2.absdiff(frames[t], closed[t]).max(axis=-1)
        out[t] = float(((diff > threshold) & visible[t]).sum()) / count
    return out


def _skin_blob_minor(frame: np.ndarray, region: np.ndarray, visible: np.ndarray) -> float:
    """Minor-axis std (px) of the non-skin blob inside `region` (see module docstring)."""
    area = int(region.sum())
    k = max(1, round(float(np.sqrt(area)) * 0.06))  # ring width ~6 % of the region's size
    inner = cv2.erode(region.astype(np.uint8), np.ones((2 * k + 1, 2 * k + 1), np.uint8)) > 0
    ring = region & ~inner & visible
    if ring.sum() < MIN_REGION_PX:
        return float("nan")
    pixels = frame.astype(np.float32)
    ring_px = pixels[ring]
    skin = np.median(ring_px, axis=0)
    limit = max(30.0, 3.0 * float(np.median(np.linalg.norm(ring_px - skin, axis=-1))))
    blob = (np.linalg.norm(pixels - skin, axis=-1) > limit) & inner & visible
    ys, xs = np.nonzero(blob)
    if len(ys) < 5:
        return 0.0
    smallest = np.linalg.eigvalsh(np.cov(np.stack([xs, ys]).astype(np.float64)))[0]
    return float(np.sqrt(max(smallest, 0.0)))


def opening_vs_skin(
    frames: np.ndarray, region: np.ndarray, hidden: np.ndarray | None = None
) -> np.ndarray:
    """Reference-free opening proxy (minor axis of the lips+interior blob) -> `[T]`."""
    _check(frames, region)
    visible = ~hidden if hidden is not None else np.ones_like(region)
    out = np.full(len(frames), np.nan)
    for t in range(len(frames)):
        area = int(region[t].sum())
        if int((region[t] & visible[t]).sum()) < MIN_REGION_PX:
            continue
        out[t] = _skin_blob_minor(frames[t], region[t], visible[t]) / np.sqrt(area)
    return out


def opening_from_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip gap over eye distance from 68 iBUG landmarks `[T, 68, 2]` -> `[T]`."""
    assert landmarks.ndim == 3 and landmarks.shape[1:] == (68, 2), "landmarks must be [T, 68, 2]"
    gap = np.linalg.norm(landmarks[:, [61, 62, 63]] - landmarks[:, [67, 66, 65]], axis=-1).mean(1)
    eyes = np.linalg.norm(landmarks[:, 36:42].mean(1) - landmarks[:, 42:48].mean(1), axis=-1)
    return gap / np.maximum(eyes, 1e-6)


def pearson(a: np.ndarray, b: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Pearson correlation of two `[T]` signals over finite (and `valid`) frames.

    NaN when fewer than 3 frames remain or the second signal (the answer) is constant; 0 when
    only the first (the result) is constant: a frozen mouth is not in step with a moving one.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape and a.ndim == 1, "signals must be [T] of equal length"
    keep = np.isfinite(a) & np.isfinite(b)
    if valid is not None:
        keep &= np.asarray(valid, bool)
    if keep.sum() < 3 or np.ptp(b[keep]) == 0:
        return float("nan")
    if np.ptp(a[keep]) == 0:
        return 0.0
    return float(np.corrcoef(a[keep], b[keep])[0, 1])


def partial_pearson(a: np.ndarray, b: np.ndarray, given: np.ndarray,
                    valid: np.ndarray | None = None) -> float:
    """Correlation of `a` with `b` once both are stripped of what `given` explains (all `[T]`,
    over frames where all three are finite and `valid`).

    The leak figure needs it: two speech tracks open and close the mouth at partly the same
    times, so even the exact answer correlates with the input's old lips (0.15 on average over
    the held-out bench clips, 0.65 on one). Given the answer, only copying is left. NaN when `a`
    or `b` is (almost) a copy of `given`: then nothing is left to correlate.
    """
    keep = np.isfinite(np.asarray(a, np.float64)) & np.isfinite(np.asarray(b, np.float64))
    keep &= np.isfinite(np.asarray(given, np.float64))
    if valid is not None:
        keep &= np.asarray(valid, bool)
    r_ab, r_ag, r_bg = pearson(a, b, keep), pearson(a, given, keep), pearson(b, given, keep)
    scale = (1.0 - r_ag ** 2) * (1.0 - r_bg ** 2)
    if not np.isfinite(scale) or scale < 1e-6:
        return float("nan")
    return float(np.clip((r_ab - r_ag * r_bg) / np.sqrt(scale), -1.0, 1.0))

