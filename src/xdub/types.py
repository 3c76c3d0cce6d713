"""Typed in-memory containers passed between layers.

Layouts: frames are uint8 RGB `[T, H, W, 3]`; audio samples are float32 mono `[N]` in [-1, 1].
Imports: numpy only (plus xdub.errors).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

AUDIO_SAMPLE_RATE = 16_000  # every audio model in xdub consumes 16 kHz mono


@dataclass(frozen=True)
class Audio:
    """Mono float32 waveform `samples: [N]` at `sample_rate` Hz."""

    samples: np.ndarray
    sample_rate: int = AUDIO_SAMPLE_RATE

    def __post_init__(self) -> None:
        assert self.samples.ndim == 1, f"audio samples must be [N], got {self.samples.shape}"

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class Video:
    """A clip held in memory: `frames: [T, H, W, 3]` uint8 RGB at `fps`, with optional audio."""

    frames: np.ndarray
    fps: float
    audio: Audio | None = None

    def __post_init__(self) -> None:
        assert self.frames.ndim == 4 and self.frames.shape[-1] == 3, (
            f"frames must be [T, H, W, 3], got {self.frames.shape}"
        )

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.frames.shape[2]), int(self.frames.shape[1])

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


@dataclass(frozen=True)
class VideoInfo:
    """What a probe of a media file tells before decoding it."""

    path: str
    width: int  # display width (after rotation)
    height: int  # display height (after rotation)
    fps: float  # average frame rate of the stream
    num_frames: int  # estimated frames at `fps` over `duration`
    duration: float  # seconds
    rotation: int = 0  # degrees clockwise applied for display
    variable_frame_rate: bool = False
    has_audio: bool = False
    codec: str = ""
    extra: dict = field(default_factory=dict)
