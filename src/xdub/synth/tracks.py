"""Shared data contracts of the procedural engine: phones, speech, and per-frame mouth shape.

The speech side (`speech.py`, `mouth.py`) produces these; the renderer (`render.py`) consumes
`MouthTrack`. Keeping the contract in one small file lets both halves evolve independently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Columns of MouthTrack.params, each in [0, 1].
MOUTH_PARAMS = ("opening", "width", "rounding", "teeth", "tongue")


@dataclass(frozen=True)
class Phone:
    """One phone (or pause) of a speech track."""

    symbol: str  # e.g. "a", "s", "p", "m", "_" (silence), "~a" (sung vowel)
    start: float  # seconds
    duration: float  # seconds
    pitch_hz: float  # mean f0 over the phone; 0 for unvoiced / silence


@dataclass(frozen=True)
class SpeechTrack:
    """A rendered utterance: the phones and the waveform they produced."""

    phones: tuple[Phone, ...]
    samples: np.ndarray  # float32 [N] in [-1, 1]
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class MouthTrack:
    """Per-frame mouth parameters `params: [T, len(MOUTH_PARAMS)]` float32 in [0, 1] at `fps`."""

    params: np.ndarray
    fps: float

    def column(self, name: str) -> np.ndarray:
        """One parameter over time, e.g. `track.column("opening")` -> [T]."""
        return self.params[:, MOUTH_PARAMS.index(name)]
