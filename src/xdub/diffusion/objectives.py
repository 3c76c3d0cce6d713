"""Flow-matching training targets and the (region-, timestep-) weighted velocity loss.

Convention from `schedule`: `x_t = (1 - sigma) * x0 + sigma * noise`, target `v = noise - x0`.
Latents are `[B, C, F, H, W]`; a region mask (e.g. the mouth) is `[B, 1, F, H, W]` or
`[B, F, H, W]` in latent resolution, values in [0, 1] (soft masks allowed).
Imports: torch and `xdub.diffusion.schedule` only.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from xdub.diffusion.schedule import interpolate, sigmas_for_sampling


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


def _pixel_weight(
    region_mask: torch.Tensor, region_weight: torch.Tensor | float, like: torch.Tensor
) -> torch.Tensor:
    """`1 + (region_weight - 1) * mask`, broadcastable to `like` ([B, C, F, H, W])."""
    mask = region_mask.to(like.dtype)
    if mask.ndim == like.ndim - 1:
        mask = mask.unsqueeze(1)  # [B, F, H, W] -> [B, 1, F, H, W]: same mask for every channel
    if mask.ndim != like.ndim or mask.shape[0] != like.shape[0] or mask.shape[2:] != like.shape[2:]:
        raise ValueError(
            f"region_mask {tuple(region_mask.shape)} does not match latents {tuple(like.shape)}"
        )
    extra = torch.as_tensor(region_weight, dtype=like.dtype, device=like.device) - 1.0
    if extra.ndim == 1:
        extra = extra.view(-1, *([1] * (like.ndim - 1)))  # per-sample weight, e.g. lip phase only
    return 1.0 + extra * mask


def flow_matching_loss(
    pred_v: torch.Tensor,
    target_v: torch.Tensor,
    weight: torch.Tensor | None = None,
    region_mask: torch.Tensor | None = None,
    region_weight: torch.Tensor | float = 2.0,
    reduce: bool = True,
) -> torch.Tensor:
    """Weighted MSE between predicted and target velocity.

    pred_v, target_v: [B, C, F, H, W]. weight: [B] per-sample factor (timestep weighting or a
    phase selector), None = 1. region_mask: [B, (1,) F, H, W]; inside it the squared error is
    multiplied by `region_weight` (float or [B], e.g. 2.0 only for lip-phase samples). The
    per-sample loss is normalised by the element count, not by the weight sum, so a weight of 2
    really doubles that region's contribution. Returns a scalar, or [B] if `reduce=False`.
    """
    if pred_v.shape != target_v.shape:
        raise ValueError(f"pred {tuple(pred_v.shape)} and target {tuple(target_v.shape)} differ")
    assert pred_v.ndim >= 2, "velocities must be batched: [B, C, F, H, W]"
    # Compute in float32 at least: bf16 squared errors lose the small late-phase residuals.
    dtype = torch.promote_types(pred_v.dtype, torch.float32)
    sq_err = (pred_v.to(dtype) - target_v.to(dtype)).square()
    if region_mask is not None:
        sq_err = sq_err * _pixel_weight(region_mask, region_weight, sq_err)
    per_sample = sq_err.flatten(1).mean(dim=1)
    if weight is not None:
        weight = torch.as_tensor(weight, dtype=dtype, device=per_sample.device)
        if weight.shape != per_sample.shape:
            raise ValueError(f"weight must be [B={per_sample.shape[0]}], got {tuple(weight.shape)}")
        per_sample = per_sample * weight
    return per_sample.mean() if reduce else per_sample


def timestep_loss_weight(
    sigma: torch.Tensor, kind: Literal["none", "bell"] = "none", shift: float = 5.0
) -> torch.Tensor:
    """Per-sample loss weight `[B]` as a function of sigma.

    "none": all ones. "bell": `exp(-2 (sigma - 0.5)^2)` minus its value at the ends, scaled to
    mean 1 over the shifted uniform training grid (the weighting the DiffSynth trainer, on which
    the official release is built, applies to Wan); it de-emphasises the nearly trivial ends.
    """
    if kind == "none":
        return torch.ones_like(sigma, dtype=torch.float32)
    if kind != "bell":
        raise ValueError(f"unknown loss weighting {kind!r}; use 'none' or 'bell'")
    floor = math.exp(-0.5)  # bell value at sigma = 0 or 1

    def bell(s: torch.Tensor) -> torch.Tensor:
        return torch.exp(-2.0 * (s.double() - 0.5) ** 2) - floor

    grid = sigmas_for_sampling(1000, shift)[:-1]
    return (bell(sigma) / bell(grid).mean()).to(torch.float32)
