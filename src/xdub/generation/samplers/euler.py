"""The Euler integrator of `xdub.diffusion.sample` (the official sampler), as "euler".

Imports: torch, xdub.diffusion, xdub.generation.samplers.
"""

from __future__ import annotations

import torch

from xdub.diffusion import ModelFn, sample
from xdub.generation.samplers import register_sampler


@register_sampler("euler")
def euler(model_fn: ModelFn, noise: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """First-order steps from `sigmas[0]` to `sigmas[-1]`; latents in noise's dtype."""
    return sample(model_fn, noise, sigmas)
