"""The crop generator interface every dubbing model implements, and the identity generator.

`CropGenerator`: given one chunk of aligned face crops, the audio windows of its frames,
optional identity reference crops and the motion frames (the previous chunk's output for this
chunk's first frames), return the new crops. The chunk runner (`xdub.generation.runner`) and
so the dubbing pipeline, pair generation, the benchmark and training samples only talk to
this interface. Imports: numpy, torch, xdub.{config, types}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from xdub.config.infer import SamplingConfig
from xdub.types import AudioTrack


@dataclass(frozen=True)
class ChunkInput:
    """One chunk for a generator (F = a length the codec accepts, padded by the runner).

    crops: [F, S, S, 3] uint8 aligned source crops. audio_windows: [F, W, D] float, one window
    per VIDEO frame, optionally preceded by the tf - 1 frames before the chunk (what its first
    latent frame hears; `xdub.conditioning.group_audio_windows` regroups them), or None. ref_crops:
    [R, S, S, 3] uint8 or None. motion_crops: [M, S, S, 3] uint8, the previous chunk's output
    for this chunk's first M frames, or None. masks: [F, S, S] float in [0, 1], the region an
    inpainting generator regenerates (None: its own default; editors ignore it). start_crops:
    [F, S, S, 3] uint8 what a partial denoise (`denoise_strength` < 1) starts from, encoded,
    or None (the generator's own start, `xdub.generation.guided.start_latents`).
    """

    crops: np.ndarray
    audio_windows: torch.Tensor | None = None
    ref_crops: np.ndarray | None = None
    motion_crops: np.ndarray | None = None
    masks: np.ndarray | None = None
    start_crops: np.ndarray | None = None


class CropGenerator(Protocol):
    """What the chunk runner needs from a dubbing model."""

    name: str
    crop_size: int  # S
    temporal_factor: int  # chunk lengths must be 1 + k * temporal_factor
    motion_frames: int  # M, frames of the previous chunk it continues from (0 = none)
    ref_frames: int  # R, identity reference crops per chunk (0 = none)

    def configured(self, sampling: SamplingConfig) -> CropGenerator:
        """This generator with a run's sampling overrides (steps, guidance scales) applied."""
        ...

    def prepare_audio(self, audio: AudioTrack) -> Any:
        """Encode the whole driving audio once (e.g. a `FeatureSequence`); None if unused."""
        ...

    def audio_windows(self, prepared: Any, first_frame: int, num_frames: int,
                      fps: float) -> torch.Tensor | None:
        """Windows `[F, W, D]` (or `[tf - 1 + F, W, D]` with lead-in) for frames first_frame..
        (relative to the audio's start)."""
        ...

    def generate(self, chunk: ChunkInput, rng: torch.Generator) -> np.ndarray:
        """New crops `[F, S, S, 3]` uint8 for `chunk`."""
        ...


class IdentityGenerator:
    """Returns its input crops unchanged: checks crop -> paste-back and chunking exactly."""

    name = "identity"

    def __init__(self, crop_size: int = 64, temporal_factor: int = 1, motion_frames: int = 0,
                 ref_frames: int = 0) -> None:
        self.crop_size, self.temporal_factor = crop_size, temporal_factor
        self.motion_frames, self.ref_frames = motion_frames, ref_frames
        self.calls: list[int] = []  # chunk lengths seen (tests inspect the chunking)
        self.steps = 0

    def configured(self, sampling: SamplingConfig) -> IdentityGenerator:
        return self

    def prepare_audio(self, audio: AudioTrack) -> None:
        return None

    def audio_windows(self, prepared: Any, first_frame: int, num_frames: int,
                      fps: float) -> torch.Tensor | None:
        return None

    def generate(self, chunk: ChunkInput, rng: torch.Generator) -> np.ndarray:
        self.calls.append(int(chunk.crops.shape[0]))
        return chunk.crops.copy()
