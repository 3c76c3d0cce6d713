"""Temporal smoothing of face geometry (One-Euro filter) and the jitter measure used to tune it.

One-Euro (Casiez et al., CHI 2012) is a low-pass filter whose cutoff rises with speed: still
faces get heavy smoothing (no shimmer), fast head turns little (no lag). Offline we run it
forward then backward ("zero phase"), which cancels the lag of a causal filter. Speeds are
measured in face units (signal divided by a per-frame scale such as the inter-ocular distance)
so one setting works at any resolution. Imports: numpy.
"""

from __future__ import annotations

import numpy as np


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Exponential-smoothing weight of the new sample for a given cutoff frequency (Hz)."""
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Streaming One-Euro filter over a vector signal: `filter(x [D]) -> [D]`, one sample a call."""

    def __init__(self, fps: float, min_cutoff: float = 1.0, beta: float = 0.05,
                 d_cutoff: float = 1.0) -> None:
        self.dt = 1.0 / fps
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the state (e.g. at a scene cut)."""
        self._x = self._dx = None

    def filter(self, x: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """Filter one sample; `scale` (e.g. face size in px) turns speeds into face units/s."""
        x = np.asarray(x, np.float64)
        if self._x is None:
            self._x, self._dx = x.copy(), np.zeros_like(x)
            return x.copy()
        assert self._dx is not None
        dx = (x - self._x) / self.dt / max(scale, 1e-9)
        self._dx = self._dx + _alpha(self.d_cutoff, self.dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, self.dt) * (x - self._x)
        return self._x.copy()


def one_euro(series: np.ndarray, fps: float, min_cutoff: float = 1.0, beta: float = 0.05,
             scale: np.ndarray | float = 1.0, zero_phase: bool = True) -> np.ndarray:
    """Smooth `series: [T, ...]` along time; `scale: [T]` or scalar normalises speeds."""
    flat = np.asarray(series, np.float64).reshape(len(series), -1)
    scales = np.broadcast_to(np.asarray(scale, np.float64), (len(series),))
    out = _run(flat, scales, fps, min_cutoff, beta)
    if zero_phase:
        out = _run(out[::-1], scales[::-1], fps, min_cutoff, beta)[::-1]
    return out.reshape(np.shape(series)).astype(np.asarray(series).dtype)


def _run(flat: np.ndarray, scales: np.ndarray, fps: float, min_cutoff: float,
         beta: float) -> np.ndarray:
    filt = OneEuroFilter(fps, min_cutoff, beta)
    # Filled in place: a list of T per-frame arrays stacked at the end held the series twice
    # (15000 frames of landmarks: 2 x 16 MiB) and left the small arrays as heap fragments.
    out = np.empty_like(flat)
    for t, (row, s) in enumerate(zip(flat, scales)):
        out[t] = filt.filter(row, float(s))
    return out


def jitter(series: np.ndarray) -> float:
    """Jitter of `series: [T, D]` (e.g. crop centres, px): RMS over D of std of 2nd differences."""
    series = np.asarray(series, np.float64).reshape(len(series), -1)
    if len(series) < 3:
        return 0.0
    second = np.diff(series, n=2, axis=0)
    return float(np.sqrt(np.mean(np.var(second, axis=0))))
