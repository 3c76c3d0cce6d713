"""The one video-codec interface shared by the tiny and the full-scale codec.

`encode(frames [B, 3, F, H, W] in [-1, 1]) -> latents [B, C, F', H / s, W / s]` (normalised,
deterministic: the posterior mean, never a sample) and `decode(latents) -> frames` (clamped to
[-1, 1]). The frame rule is causal-Wan style: the first frame is encoded alone, then groups of
`temporal_factor`, so `F' = 1 + (F - 1) / temporal_factor` and F must be `1 + k * factor`
(any F when the factor is 1). Imports: torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn


class VideoCodec(nn.Module, ABC):
    """Pixels <-> latents for video clips; subclasses set the three attributes below."""

    latent_channels: int  # C
    temporal_factor: int  # frames per latent frame after the first
    spatial_factor: int  # pixels per latent along H and W

    def latent_frames(self, num_frames: int) -> int:
        """F' for F input frames (raises ValueError if F does not fit the causal rule)."""
        if num_frames < 1 or (num_frames - 1) % self.temporal_factor:
            raise ValueError(
                f"num_frames must be 1 + k * {self.temporal_factor} (k >= 0), got {num_frames}"
            )
        return 1 + (num_frames - 1) // self.temporal_factor

    def pixel_frames(self, latent_frames: int) -> int:
        """F decoded from F' latent frames."""
        return 1 + (latent_frames - 1) * self.temporal_factor

    def check_frames(self, frames: torch.Tensor) -> None:
        """Assert the `[B, 3, F, H, W]` layout and sizes this codec accepts."""
        assert frames.ndim == 5 and frames.shape[1] == 3, (
            f"frames must be [B, 3, F, H, W], got {tuple(frames.shape)}"
        )
        self.latent_frames(frames.shape[2])
        h, w = frames.shape[-2:]
        if h % self.spatial_factor or w % self.spatial_factor:
            raise ValueError(f"H, W must be multiples of {self.spatial_factor}, got {h}x{w}")

    @abstractmethod
    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """frames: [B, 3, F, H, W] in [-1, 1] -> latents: [B, C, F', H/s, W/s]."""

    @abstractmethod
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """latents: [B, C, F', h, w] -> frames: [B, 3, F, h*s, w*s] in [-1, 1]."""
