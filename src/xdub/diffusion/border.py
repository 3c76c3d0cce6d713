"""Border latents pinned to the source while sampling (the released X-Dub inference setting).

The outer `width` latent pixels of every frame from `start_frame` on are replaced by the
source latents noised to the current level before each model call, and by the clean source at
the end, so the crop's edge (which paste-back blends into the frame) stays the source's. The
noise level is capped at `max_sigma` (released: 0.95), so the ring always carries some source.
Only the model's INPUT needs replacing each step: the integrated ring values are overwritten
again before they are read, which makes this exact for any integrator. Imports: torch,
diffusion.schedule.
"""

from __future__ import annotations

import torch

from xdub.diffusion.sampler import ModelFn
from xdub.diffusion.schedule import interpolate

MAX_SIGMA = 0.95  # released noise cap of the pinned ring


def border_mask(shape: torch.Size | tuple[int, ...], start_frame: int, width: int,
                device: torch.device | None = None) -> torch.Tensor:
    """Bool `[1, 1, F, H, W]`: the outer `width` pixels of frames >= start_frame."""
    frames, height, wide = shape[-3:]
    mask = torch.zeros(1, 1, frames, height, wide, dtype=torch.bool, device=device)
    if width <= 0 or start_frame >= frames:
        return mask
    mask[..., start_frame:, :width, :] = True
    mask[..., start_frame:, height - width:, :] = True
    mask[..., start_frame:, :, :width] = True
    mask[..., start_frame:, :, wide - width:] = True
    return mask


def pin_border(latents: torch.Tensor, border: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`latents` with the masked entries taken from `border` (same shape)."""
    return torch.where(mask, border.to(latents.dtype), latents)


def with_pinned_border(model_fn: ModelFn, source: torch.Tensor, noise: torch.Tensor,
                       mask: torch.Tensor, max_sigma: float = MAX_SIGMA) -> ModelFn:
    """`model_fn` that sees the ring as `source` noised to min(sigma, max_sigma)."""

    def pinned(x_t: torch.Tensor, sigma: torch.Tensor, step: int) -> torch.Tensor:
        level = sigma.clamp(0.0, max_sigma)
        noised = interpolate(source.to(x_t.dtype), noise.to(x_t.dtype), level.to(x_t.dtype))
        return model_fn(pin_border(x_t, noised, mask), sigma, step)

    return pinned
