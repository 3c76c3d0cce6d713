"""Typed in-memory containers passed between layers.

Layouts: frames are uint8 RGB `[T, H, W, 3]`; audio samples are float32 mono `[N]` in [-1, 1].
Imports: numpy only (plus xdub.errors).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

AUDIO_SAMPLE_RATE = 16_000  # every audio model in xdub consumes 16 kHz mono
AUDIO_BLOCK_SECONDS = 10.0  # piece size when a track is read block by block


class AudioTrack(Protocol):
    """A mono float32 track read piece by piece: an in-memory `Audio`, or a file decoded on
    demand (`xdub.media.FileAudio`), so a long track never has to be held whole."""

    sample_rate: int

    @property
    def num_samples(self) -> int:
        """N, samples in the track."""
        ...

    @property
    def duration(self) -> float:
        """Length in seconds."""
        ...

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples `[start, min(stop, N))` as float32 (`0 <= start`), like slicing an array."""
        ...


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

    @property
    def num_samples(self) -> int:
        """N, samples in the track (`AudioTrack`)."""
        return len(self.samples)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples `[start, min(stop, N))` (`AudioTrack`)."""
        return self.samples[start:stop]


def audio_blocks(track: AudioTrack, block: int | None = None) -> Iterator[np.ndarray]:
    """The whole track in order, `block` samples at a time (default `AUDIO_BLOCK_SECONDS`)."""
    block = block or max(1, round(AUDIO_BLOCK_SECONDS * track.sample_rate))
    for start in range(0, track.num_samples, block):
        yield track.read(start, start + block)


def load_track(track: AudioTrack) -> Audio:
    """The track held in memory (what in-memory results such as `Video.audio` need)."""
    if isinstance(track, Audio):
        return track
    return Audio(np.ascontiguousarray(track.read(0, track.num_samples), np.float32),
                 int(track.sample_rate))


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
