"""Builders shared by the xdub.models tests: a micro DiT config and seeded random inputs."""

from __future__ import annotations

import torch

from xdub.config import replace
from xdub.config.model import MODEL_PRESETS, DiTConfig
from xdub.models import DiTConditioning

AUDIO_WINDOW = 8  # official: 8 feature vectors per latent frame


def micro_config(**changes) -> DiTConfig:
    """A 2-layer, 64-wide DiT with text and audio branches (fast for behavioural tests)."""
    base = dict(
        latent_channels=4, dim=64, num_layers=2, num_heads=2, ffn_dim=128, freq_dim=32,
        text_dim=16, null_context_len=4, audio_dim=24, audio_proj_dim=32,
        audio_proj_layers=1, audio_proj_heads=2,
    )
    return replace(MODEL_PRESETS["tiny"], **{**base, **changes})


def random_inputs(
    config: DiTConfig,
    batch: int = 2,
    frames: int = 3,
    size: int = 8,
    motion_frames: int = 0,
    ref_frames: int = 0,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, DiTConditioning]:
    """(noisy_latents [B,C,F,S,S], timestep [B], cond) drawn from a seeded generator."""
    gen = torch.Generator().manual_seed(seed)
    c = config.latent_channels
    shape = (batch, c, frames, size, size)

    def clip(channels: int, length: int) -> torch.Tensor | None:
        return torch.randn(batch, channels, length, size, size, generator=gen) if length else None

    source = clip(config.cond_channels or c, frames)
    assert source is not None
    audio = None
    if config.audio_dim:
        audio = torch.randn(batch, frames, AUDIO_WINDOW, config.audio_dim, generator=gen)
    cond = DiTConditioning(
        source_latents=source,
        ref_latents=clip(c, ref_frames),
        motion_latents=clip(c, motion_frames),
        audio_features=audio,
    )
    timestep = torch.rand(batch, generator=gen) * 1000
    return torch.randn(shape, generator=gen), timestep, cond
