"""Give a generated region the fine detail of the real frames it replaces (issue #12).

Why: a regression-driven stage 1 (the audio lip prior, design 3.1 session 18) draws the mouth
that is right on average, which is softer than any real mouth; a small classifier tells those
V' mouths from real ones by that alone, and an editor trained on such pairs learns that a
sharp input mouth is the answer to copy. `sharpen_to_match` applies one unsharp mask to a
whole clip, its amount chosen so that the variance of the Laplacian inside the region (the
measure of `scripts/stage1_realism.py`) equals that of the real frames there: detail where
the real clip has detail, never more. One amount per clip keeps frames consistent (no
flicker). Imports: numpy, cv2.
"""

from __future__ import annotations

import cv2
import numpy as np

BLUR_SIGMA = 1.0  # px: the detail an unsharp mask restores is what this blur removes
BISECTIONS = 12  # amount resolution max_amount / 4096


def detail_energy(frames: np.ndarray, inside: np.ndarray) -> float:
    """Mean over frames of the variance of the grey Laplacian (`frames` `[T, S, S, 3]` in
    [0, 255]) over the pixels where `inside` (`[T, S, S]` bool) is set; 0 where none is."""
    values = []
    for frame, where in zip(frames, inside):
        if where.any():
            grey = frame.astype(np.float32).mean(axis=-1) / 255.0
            values.append(float(cv2.Laplacian(grey, cv2.CV_32F)[where].var()))
    return float(np.mean(values)) if values else 0.0


def sharpen_to_match(generated: np.ndarray, real: np.ndarray, region: np.ndarray,
                     max_amount: float = 4.0) -> tuple[np.ndarray, float]:
    """`generated` uint8 `[T, S, S, 3]` sharpened (`x + a * (x - blur(x))`, clipped) with the
    smallest amount `a` in [0, `max_amount`] whose `detail_energy` inside `region` (`[T, S, S]`,
    > 0.5 counts) reaches that of `real` there; returned with `a` (0: already as detailed)."""
    inside = region > 0.5
    target = detail_energy(real, inside)
    if detail_energy(generated, inside) >= target:
        return generated, 0.0
    x = generated.astype(np.float32)
    detail = x - np.stack([cv2.GaussianBlur(f, (0, 0), BLUR_SIGMA) for f in x])

    def sharpened(amount: float) -> np.ndarray:
        return np.clip(np.rint(x + amount * detail), 0, 255).astype(np.uint8)

    low, high = 0.0, max_amount
    if detail_energy(sharpened(high), inside) <= target:
        return sharpened(high), high
    for _ in range(BISECTIONS):
        middle = 0.5 * (low + high)
        if detail_energy(sharpened(middle), inside) < target:
            low = middle
        else:
            high = middle
    return sharpened(high), high
