"""Rectified-flow (flow-matching) noise schedule: interpolation, sigma shift, sampling sigmas.

Sign convention (used everywhere in `xdub.diffusion`, never flipped):

    x_t = (1 - sigma) * x0 + sigma * noise          sigma in [0, 1], 1 = pure noise
    v   = d x_t / d sigma = noise - x0              what the network predicts ("velocity")
    x0  = x_t - sigma * v                           one-step clean estimate

Sampling integrates from sigma = 1 down to sigma = 0, so an Euler step is
`x_next = x_t + (sigma_next - sigma) * v` with a negative `sigma_next - sigma`.

The network sees `timestep = sigma * num_train_timesteps` (0..1000, Wan convention). All sigmas
in the public API are *shifted* sigmas, i.e. the actual noise level.

Design choice: the sampling sigmas are computed here directly (a few lines of float64 math, no
scheduler object with hidden step state) instead of through diffusers'
`FlowMatchEulerDiscreteScheduler`. The test suite checks numerically that
`sigmas_for_sampling(n, shift)` equals that scheduler's `sigmas` after
`set_timesteps(sigmas=linspace(1, 1/n, n))` with the same static shift, so either can drive
the same trained network. Imports: torch only.
"""

from __future__ import annotations

import torch

DEFAULT_NUM_TRAIN_TIMESTEPS = 1000  # Wan's timestep scale: t = sigma * 1000


def shift_sigma(sigma: torch.Tensor | float, shift: float) -> torch.Tensor:
    """Map a uniform-grid sigma to the shifted one: `shift*s / (1 + (shift-1)*s)`."""
    if shift <= 0:
        raise ValueError(f"shift must be > 0, got {shift}")
    sigma = torch.as_tensor(sigma)
    # shift > 1 spends more of the sigma range at high noise, where large/video latents need it.
    return shift * sigma / (1.0 + (shift - 1.0) * sigma)


def unshift_sigma(sigma: torch.Tensor | float, shift: float) -> torch.Tensor:
    """Inverse of `shift_sigma`: `s / (shift - (shift-1)*s)`."""
    if shift <= 0:
        raise ValueError(f"shift must be > 0, got {shift}")
    sigma = torch.as_tensor(sigma)
    return sigma / (shift - (shift - 1.0) * sigma)


def sigma_to_timestep(
    sigma: torch.Tensor | float, num_train_timesteps: int = DEFAULT_NUM_TRAIN_TIMESTEPS
) -> torch.Tensor:
    """Noise level (0..1) -> network timestep (0..num_train_timesteps), continuous."""
    return torch.as_tensor(sigma) * num_train_timesteps


def timestep_to_sigma(
    timestep: torch.Tensor | float, num_train_timesteps: int = DEFAULT_NUM_TRAIN_TIMESTEPS
) -> torch.Tensor:
    """Network timestep (0..num_train_timesteps) -> noise level (0..1)."""
    return torch.as_tensor(timestep) / num_train_timesteps


def sigmas_for_sampling(
    num_steps: int, shift: float, denoise_strength: float = 1.0
) -> torch.Tensor:
    """Descending sampling sigmas `[num_steps + 1]` (float32), shifted, ending with exactly 0.

    The unshifted grid is `linspace(denoise_strength, 0, num_steps + 1)`; `denoise_strength < 1`
    starts from a partially noised input (SDEdit-style) with the same number of steps.
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    if not 0.0 < denoise_strength <= 1.0:
        raise ValueError(f"denoise_strength must be in (0, 1], got {denoise_strength}")
    grid = torch.linspace(denoise_strength, 0.0, num_steps + 1, dtype=torch.float64)
    return shift_sigma(grid, shift).to(torch.float32)


def sigmas_from(sigmas: torch.Tensor, start_sigma: float) -> torch.Tensor:
    """Tail of a descending schedule starting at `start_sigma` (inserted if not on the grid).

    For partial denoising of an existing latent: `sample(..., sigmas_from(s, 0.5), init=x0)`.
    """
    if sigmas.ndim != 1 or sigmas.numel() < 2:
        raise ValueError("sigmas must be a 1-D descending schedule with >= 2 entries")
    if not 0.0 < start_sigma <= float(sigmas[0]):
        raise ValueError(f"start_sigma must be in (0, {float(sigmas[0])}], got {start_sigma}")
    tail = sigmas[sigmas < start_sigma]
    head = torch.tensor([start_sigma], dtype=sigmas.dtype, device=sigmas.device)
    return torch.cat([head, tail])


def interpolate(x0: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """`(1 - sigma) * x0 + sigma * noise`; `sigma` scalar or `[B]` (broadcast over the rest)."""
    sigma_b = expand_sigma(sigma, x0)
    return (1.0 - sigma_b) * x0 + sigma_b * noise


def expand_sigma(sigma: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """Scalar or `[B]` sigma -> shape `[B, 1, ..., 1]` matching `like`'s ndim, dtype and device."""
    sigma = torch.as_tensor(sigma, dtype=like.dtype, device=like.device)
    if sigma.ndim == 0:
        return sigma
    if sigma.ndim != 1 or sigma.shape[0] != like.shape[0]:
        raise ValueError(
            f"sigma must be a scalar or [B={like.shape[0]}], got shape {tuple(sigma.shape)}"
        )
    return sigma.view(-1, *([1] * (like.ndim - 1)))
