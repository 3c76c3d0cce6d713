"""Flow-matching training inputs and targets (the weighted loss on them: `xdub.train.losses`).

Convention from `schedule`: `x_t = (1 - sigma) * x0 + sigma * noise`, target `v = noise - x0`.
Latents are `[B, C, F, H, W]`. Imports: torch and `xdub.diffusion.schedule` only.
"""

from __future__ import annotations

import torch

from xdub.diffusion.schedule import interpolate


def noisy_input(x0: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """Network input `x_t = (1 - sigma) * x0 + sigma * noise`; sigma scalar or `[B]`."""
    if x0.shape != noise.shape:
        raise ValueError(f"x0 {tuple(x0.shape)} and noise {tuple(noise.shape)} differ in shape")
    return interpolate(x0, noise, sigma)


def velocity_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Regression target `v = noise - x0` (derivative of x_t w.r.t. sigma)."""
    if x0.shape != noise.shape:
        raise ValueError(f"x0 {tuple(x0.shape)} and noise {tuple(noise.shape)} differ in shape")
    return noise - x0
