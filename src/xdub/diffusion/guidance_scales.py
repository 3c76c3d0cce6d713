"""Noise-level-dependent guidance scales for three-stream (reference / audio) guidance.

A scale schedule is a callable `sigma [B] -> (ref_scale [B], audio_scale [B])`; it works on
tensors so the sampler never has to pull sigma back to the host. A scale of 1 means "condition
but do not extrapolate", 0 means "ignore that condition". Kinds (config `guidance_schedule`):

- constant: the same scales at every step.
- linear:   scales ramp linearly in sigma from the given values at sigma = 1 to 1 at sigma = 0.
- lip_only: constant reference scale; audio extrapolation only inside the lip phase, plain
            conditioning (scale 1) elsewhere.
- dynamic:  the official X-Dub sampler's schedule: reference scale stepped down to 0.6x and
            0.3x of its value around the two phase boundaries (cosine transitions 0.1 wide),
            audio scale `audio * sigma ** 1.5` (strong early, fading as the mouth settles).

Imports: torch, config, phases.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from xdub.config.diffusion import DiffusionConfig
from xdub.diffusion.phases import PhaseMap

ScaleFn = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]

DYNAMIC_REF_LEVELS = (1.0, 0.6, 0.3)  # official fractions of the ref scale, high -> low noise
DYNAMIC_TRANSITION_WIDTH = 0.1  # official width (in sigma) of each cosine transition
DYNAMIC_AUDIO_POWER = 1.5  # official exponent of the audio-scale decay in sigma


def constant_scales(ref_scale: float, audio_scale: float) -> ScaleFn:
    """The same (ref, audio) scales at every noise level."""

    def scales(sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.full_like(sigma, ref_scale), torch.full_like(sigma, audio_scale)

    return scales


def linear_scales(
    ref_scale: float, audio_scale: float, ref_end: float = 1.0, audio_end: float = 1.0
) -> ScaleFn:
    """Scales linear in sigma: given values at sigma = 1, `*_end` values at sigma = 0."""

    def scales(sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ref = ref_end + (ref_scale - ref_end) * sigma
        return ref, audio_end + (audio_scale - audio_end) * sigma

    return scales


def lip_only_scales(
    ref_scale: float, audio_scale: float, phase_map: PhaseMap, audio_outside: float = 1.0
) -> ScaleFn:
    """Constant ref scale; `audio_scale` in the lip phase, `audio_outside` in the others."""

    def scales(sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        in_lip = phase_map.in_phase(sigma, "lip")
        audio = torch.where(in_lip, audio_scale, audio_outside).to(sigma.dtype)
        return torch.full_like(sigma, ref_scale), audio

    return scales


def cosine_steps(
    sigma: torch.Tensor, levels: Sequence[float], transitions: Sequence[float], width: float
) -> torch.Tensor:
    """Piecewise-constant `levels` (high sigma first) joined by half-cosine ramps.

    `transitions[k]` (descending) is the centre of the ramp from `levels[k]` to
    `levels[k + 1]`; each ramp spans `width` in sigma and ramps must not overlap.
    """
    if len(levels) != len(transitions) + 1:
        raise ValueError("need exactly one more level than transitions")
    value = torch.full_like(sigma, levels[0])
    for k, centre in enumerate(transitions):
        # Progress through the k-th ramp: 0 above it, 1 below it; half-cosine in between.
        progress = ((centre + width / 2 - sigma) / width).clamp(0.0, 1.0)
        ramp = (1.0 - torch.cos(math.pi * progress)) / 2
        value = value + (levels[k + 1] - levels[k]) * ramp
    return value


def dynamic_scales(
    ref_scale: float,
    audio_scale: float,
    transitions: tuple[float, float] = (0.8, 0.4),
) -> ScaleFn:
    """Official X-Dub schedule: stepped ref scale, audio scale `audio * sigma ** 1.5`."""
    levels = [ref_scale * level for level in DYNAMIC_REF_LEVELS]

    def scales(sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ref = cosine_steps(sigma, levels, transitions, DYNAMIC_TRANSITION_WIDTH)
        return ref, audio_scale * sigma.clamp(min=0.0) ** DYNAMIC_AUDIO_POWER

    return scales


def scales_from_config(cfg: DiffusionConfig) -> ScaleFn:
    """The scale schedule named by `cfg.guidance_schedule` with `cfg`'s scales and phases."""
    phase_map = PhaseMap.from_config(cfg)
    kind = cfg.guidance_schedule
    if kind == "constant":
        return constant_scales(cfg.ref_scale, cfg.audio_scale)
    if kind == "linear":
        return linear_scales(cfg.ref_scale, cfg.audio_scale)
    if kind == "lip_only":
        return lip_only_scales(cfg.ref_scale, cfg.audio_scale, phase_map)
    if kind == "dynamic":
        # Ramps centred on the phase boundaries (official: 0.8 and 0.4, our wan5b defaults).
        bounds = (phase_map.structure_lip_sigma, phase_map.lip_texture_sigma)
        return dynamic_scales(cfg.ref_scale, cfg.audio_scale, bounds)
    raise ValueError(f"unknown guidance schedule {kind!r}")
