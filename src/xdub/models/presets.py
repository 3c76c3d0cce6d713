"""Named DiT presets -> built models. The configs live in `xdub.config.model.MODEL_PRESETS`.

Imports: torch, xdub.config, xdub.errors, xdub.models.dit.
"""

from __future__ import annotations

import torch
from torch import nn

from xdub.config.model import MODEL_PRESETS, DiTConfig
from xdub.errors import ConfigError
from xdub.models.dit import XDubDiT


def dit_config(preset: str | DiTConfig) -> DiTConfig:
    """The DiTConfig of a preset name (or the config itself)."""
    if isinstance(preset, DiTConfig):
        return preset
    if preset not in MODEL_PRESETS:
        raise ConfigError(f"unknown model preset '{preset}'; choose one of {sorted(MODEL_PRESETS)}")
    return MODEL_PRESETS[preset]


def build_dit(
    preset: str | DiTConfig,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    seed: int | None = None,
) -> XDubDiT:
    """A freshly initialised DiT; `device="meta"` allocates nothing (shape inspection)."""
    config = dit_config(preset)
    generator_state = None
    if seed is not None:  # init draws from the global RNG; scope the seed to this call
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
    try:
        with torch.device(device if device is not None else "cpu"):
            model = XDubDiT(config)
    finally:
        if generator_state is not None:
            torch.random.set_rng_state(generator_state)
    return model.to(dtype=dtype) if dtype is not None else model


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with requires_grad)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
