"""Registry of integrators: `SAMPLERS[name](model_fn, noise, sigmas) -> latents`.

`DiffusionConfig.sampler` names one of them. A new sampler is one file in this folder that
calls `register_sampler` (and one import line below, so it registers on import).
Imports: xdub.diffusion (the `ModelFn` contract), xdub.errors.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from xdub.diffusion import ModelFn
from xdub.errors import ConfigError

SamplerFn = Callable[[ModelFn, torch.Tensor, torch.Tensor], torch.Tensor]
SAMPLERS: dict[str, SamplerFn] = {}


def register_sampler(name: str) -> Callable[[SamplerFn], SamplerFn]:
    """Decorator: make `fn(model_fn, noise [B, C, F, H, W], sigmas [N + 1])` available as `name`."""

    def add(fn: SamplerFn) -> SamplerFn:
        if name in SAMPLERS:
            raise ValueError(f"sampler {name!r} registered twice")
        SAMPLERS[name] = fn
        return fn

    return add


def get_sampler(name: str) -> SamplerFn:
    """The registered sampler `name` (ConfigError listing the choices otherwise)."""
    if name not in SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r}; choose one of {', '.join(sorted(SAMPLERS))}")
    return SAMPLERS[name]


from xdub.generation.samplers import euler  # noqa: E402,F401  (registers "euler")
