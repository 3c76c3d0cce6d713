"""Temporal metrics: flicker against the answer's own motion, and seams at chunk boundaries.

All functions take uint8 RGB frames `[T, H, W, 3]` and an optional region mask `[H, W]` or
`[T, H, W]` (None = every pixel). With `d_t(x)` = mean over masked pixels and channels of
`|x_t - x_{t-1}|` (grey levels, t = 1..T-1; the mask of frame t counts):

- `temporal_mad(x)` = mean_t d_t(x): how much the region changes per frame;
- `flicker_ratio(r, a)` = temporal_mad(r) / temporal_mad(a): 1 = as lively as the answer,
  > 1 = extra flicker, < 1 = frozen;
- `temporal_error(r, a)` = mean_t mean_px |(r_t - r_{t-1}) - (a_t - a_{t-1})|: change that the
  answer does not have (0 for the answer itself), motion-compensated by construction;
- `seam_index(x, boundaries, reference=a)` = (mean_{t in B} e_t + eps) / (median_{t not in B} e_t
  + eps), e_t the per-step temporal error (or d_t without a reference), B the frame indices
  where a new chunk starts: 1 = boundaries look like any other step, >> 1 = visible seams;
- `jump_index` = the same ratio with B = the single worst step, for methods whose chunk
  boundaries are unknown.
Imports: numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SEAM_EPS = 0.05  # grey levels added to both sides of the seam ratio so 0/0 (a perfect answer) = 1


def _step_masks(mask: np.ndarray | None, t: int, h: int, w: int) -> np.ndarray | None:
    """Mask of each step t = 1..T-1 (`[T-1, H, W]`), taken from frame t."""
    if mask is None:
        return None
    mask = np.asarray(mask, bool)
    if mask.ndim == 2:
        return np.broadcast_to(mask, (t - 1, h, w))
    assert mask.shape == (t, h, w), f"mask must be [H, W] or [T, H, W], got {mask.shape}"
    return mask[1:]


def pool_steps(change: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """`step_change_map` output `[T-1, H, W]` -> `[T-1]` masked means (NaN for empty masks)."""
    masks = _step_masks(mask, len(change) + 1, *change.shape[1:])
    if masks is None:
        return change.reshape(len(change), -1).mean(axis=1, dtype=np.float64)
    counts = masks.reshape(len(masks), -1).sum(axis=1)
    sums = np.where(masks, change, 0.0).reshape(len(change), -1).sum(axis=1, dtype=np.float64)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def step_change_map(
    frames: np.ndarray, reference: np.ndarray | None = None, block: int = 64
) -> np.ndarray:
    """Per-pixel change of each step, mean over RGB: `[T, H, W, 3]` -> float32 `[T-1, H, W]`.

    |x_t - x_{t-1}|, or |(x_t - x_{t-1}) - (a_t - a_{t-1})| when `reference` a is given;
    computed in blocks of frames to bound memory on long clips.
    """
    assert frames.ndim == 4 and frames.shape[-1] == 3, (
        f"frames must be [T, H, W, 3], got {frames.shape}"
    )
    if reference is not None:
        assert reference.shape == frames.shape, "reference must match frames"
    t, h, w, _ = frames.shape
    out = np.empty((max(t - 1, 0), h, w), np.float32)
    for start in range(0, t - 1, block):
        stop = min(start + block + 1, t)
        step = np.diff(frames[start:stop].astype(np.int16), axis=0)
        if reference is not None:
            step -= np.diff(reference[start:stop].astype(np.int16), axis=0)
        out[start : stop - 1] = np.abs(step).mean(axis=-1, dtype=np.float32)
    return out


def frame_differences(
    frames: np.ndarray, mask: np.ndarray | None = None, reference: np.ndarray | None = None
) -> np.ndarray:
    """Per-step change `[T-1]`: d_t, or e_t = |dx_t - da_t| given `reference` (the answer)."""
    return pool_steps(step_change_map(frames, reference), mask)


def temporal_mad(frames: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute frame-to-frame change in the region (grey levels); NaN for < 2 frames."""
    steps = frame_differences(frames, mask)
    return float(np.nanmean(steps)) if np.isfinite(steps).any() else float("nan")


def flicker_ratio(
    result: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None
) -> float:
    """temporal_mad(result) / temporal_mad(reference); NaN if the reference never changes."""
    own = temporal_mad(reference, mask)
    if not np.isfinite(own) or own <= 0:
        return float("nan")
    return temporal_mad(result, mask) / own


def temporal_error(
    result: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None
) -> float:
    """Mean |temporal derivative of result - that of the answer| over the region (grey levels)."""
    steps = frame_differences(result, mask, reference)
    return float(np.nanmean(steps)) if np.isfinite(steps).any() else float("nan")


def seam_ratio(steps: np.ndarray, boundaries: Sequence[int], eps: float = SEAM_EPS) -> float:
    """Seam index from per-step changes `steps: [T-1]` (step i = frame i -> i+1).

    `boundaries`: frame indices b (1 <= b < T) where a chunk starts, i.e. step b-1.
    NaN when there is no usable boundary or no within-chunk step.
    """
    at = sorted({int(b) - 1 for b in boundaries if 1 <= int(b) <= len(steps)})
    inside = np.ones(len(steps), bool)
    inside[at] = False
    seam, rest = steps[at], steps[inside]
    seam, rest = seam[np.isfinite(seam)], rest[np.isfinite(rest)]
    if not len(seam) or not len(rest):
        return float("nan")
    return float((seam.mean() + eps) / (np.median(rest) + eps))


def seam_index(
    frames: np.ndarray,
    boundaries: Sequence[int],
    mask: np.ndarray | None = None,
    reference: np.ndarray | None = None,
    eps: float = SEAM_EPS,
) -> float:
    """Boundary-step change over typical within-chunk change; see module docstring."""
    return seam_ratio(frame_differences(frames, mask, reference), boundaries, eps)


def jump_ratio(steps: np.ndarray, eps: float = SEAM_EPS) -> float:
    """Seam ratio of the single largest step of `steps: [T-1]`."""
    if not np.isfinite(steps).any():
        return float("nan")
    return seam_ratio(steps, [int(np.nanargmax(steps)) + 1], eps)


def jump_index(
    frames: np.ndarray,
    mask: np.ndarray | None = None,
    reference: np.ndarray | None = None,
    eps: float = SEAM_EPS,
) -> float:
    """Seam index of the single largest step (boundary-free seam/glitch detector)."""
    return jump_ratio(frame_differences(frames, mask, reference), eps)


def chunk_starts(num_frames: int, chunk: int, overlap: int = 0) -> list[int]:
    """Start frames (> 0) of chunks of `chunk` frames advancing by `chunk - overlap`."""
    stride = chunk - overlap
    if chunk <= 0 or stride <= 0:
        return []
    return list(range(stride, num_frames, stride))
