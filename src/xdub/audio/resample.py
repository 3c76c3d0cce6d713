"""Sample-rate conversion of a mono `Audio` (the dubbing audio to the featurizer's 16 kHz).

Imports: math, numpy, scipy (lazily), xdub.types.
"""

from __future__ import annotations

import math

import numpy as np

from xdub.types import Audio


def resample(audio: Audio, sample_rate: int) -> Audio:
    """`audio` at `sample_rate` (polyphase filter; identity when the rate already matches)."""
    if int(audio.sample_rate) == int(sample_rate):
        return audio
    from scipy.signal import resample_poly

    g = math.gcd(int(audio.sample_rate), int(sample_rate))
    up, down = int(sample_rate) // g, int(audio.sample_rate) // g
    samples = resample_poly(audio.samples.astype(np.float64), up, down).astype(np.float32)
    return Audio(samples=np.ascontiguousarray(samples), sample_rate=int(sample_rate))
