"""The HTK mel scale and its triangular filterbank, written once for every spectrogram in xdub.

Used by the tiny featurizer (`xdub.audio.mel`, area-normalised filters) and the sync scorers'
features (`xdub.models.syncnet_features`: plain triangles, and python_speech_features' binned
triangles for the public LSE protocol). It sits below `audio` and `models`, which may not import
each other. Whisper's Slaney filters come from transformers (the released features used them).
Imports: numpy only.
"""

from __future__ import annotations

import numpy as np


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale (float64)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of `hz_to_mel` (float64)."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: int, f_min: float = 0.0,
                   f_max: float | None = None, unit_area: bool = False) -> np.ndarray:
    """Triangular filters evenly spaced on the mel scale: `[n_mels, n_fft // 2 + 1]` float64.

    `f_max` None = Nyquist. `unit_area` scales each filter to unit area in Hz so wide high
    bands do not dominate the spectrum's loudness (the idea of Slaney normalisation).
    """
    f_max = sample_rate / 2.0 if f_max is None else f_max
    bin_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bin_hz[None, :] - lower) / (centre - lower)
    falling = (upper - bin_hz[None, :]) / (upper - centre)
    filters = np.clip(np.minimum(rising, falling), 0.0, None)
    if unit_area:
        filters *= 2.0 / (upper - lower)
    return filters


def binned_mel_filterbank(n_filters: int, n_fft: int, sample_rate: int) -> np.ndarray:
    """The same triangles on integer FFT bins, as python_speech_features builds them.

    Returns `[n_filters, n_fft // 2 + 1]`. The bin edges are floored, which is what makes the
    SyncNet protocol's MFCC values reproducible; the continuous filterbank would shift LSE numbers.
    """
    mel_points = np.linspace(0.0, hz_to_mel(sample_rate / 2.0), n_filters + 2)
    bins = np.floor((n_fft + 1) * mel_to_hz(mel_points) / sample_rate)
    bank = np.zeros((n_filters, n_fft // 2 + 1))
    for j in range(n_filters):
        lo, mid, hi = int(bins[j]), int(bins[j + 1]), int(bins[j + 2])
        for i in range(lo, mid):
            bank[j, i] = (i - bins[j]) / (bins[j + 1] - bins[j])
        for i in range(mid, hi):
            bank[j, i] = (bins[j + 2] - i) / (bins[j + 2] - bins[j + 1])
    return bank
