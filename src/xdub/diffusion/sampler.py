"""Euler sampler for rectified flow over a `model_fn` callable (no network knowledge here).

`model_fn(x_t, sigma, step_index) -> velocity`: x_t is `[B, C, F, H, W]` (any shape with a
batch axis), sigma is a `[B]` tensor on x_t's device (float32; float64 for float64 latents)
holding the actual noise level (convert with `schedule.sigma_to_timestep` if the network wants
0..1000), and step_index is the position in the schedule (for per-step experts or caches).
The velocity follows the `schedule` convention `v = noise - x0`.

The loop is deterministic given the initial noise: it draws no random numbers. Passing
`init_latents` starts from `(1 - sigmas[0]) * init + sigmas[0] * noise` instead of pure
noise (SDEdit-style partial denoising, or a cheap preview from an intermediate level).
Imports: torch, tqdm, diffusion.schedule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from xdub.diffusion.schedule import expand_sigma, interpolate

ModelFn = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


@dataclass(frozen=True)
class StepInfo:
    """What one Euler step saw and produced, passed to the sampler's callback."""

    step_index: int
    sigma: float
    sigma_next: float
    x_t: torch.Tensor  # [B, ...] input of this step
    velocity: torch.Tensor  # [B, ...] model (guided) output
    x0_pred: torch.Tensor  # [B, ...] one-step clean estimate x_t - sigma * v
    x_next: torch.Tensor  # [B, ...] latent after the step


@dataclass
class SamplingTrace:
    """Final latents plus the per-step clean estimates, for phase diagnostics."""

    latents: torch.Tensor  # [B, ...] at the last sigma
    sigmas: torch.Tensor  # [N + 1] schedule that was run
    x0_preds: list[torch.Tensor] = field(default_factory=list)  # N tensors [B, ...]


def predict_x0(
    x_t: torch.Tensor, velocity: torch.Tensor, sigma: torch.Tensor | float
) -> torch.Tensor:
    """Clean-sample estimate `x_t - sigma * v`; sigma scalar or `[B]`."""
    return x_t - expand_sigma(sigma, x_t) * velocity


def _check_sigmas(sigmas: torch.Tensor) -> None:
    if sigmas.ndim != 1 or sigmas.numel() < 2:
        raise ValueError("sigmas must be 1-D with at least 2 entries (start ... end)")
    if not bool((sigmas[1:] < sigmas[:-1]).all()):
        raise ValueError("sigmas must be strictly decreasing")
    if float(sigmas[0]) > 1.0 or float(sigmas[-1]) < 0.0:
        raise ValueError("sigmas must lie in [0, 1]")


def sample(
    model_fn: ModelFn,
    noise: torch.Tensor,
    sigmas: torch.Tensor,
    callback: Callable[[StepInfo], None] | None = None,
    progress: bool = False,
    init_latents: torch.Tensor | None = None,
) -> torch.Tensor:
    """Integrate `dx/dsigma = v` with Euler from `sigmas[0]` to `sigmas[-1]`.

    noise: [B, C, F, H, W] starting noise (its dtype is kept). sigmas: [N + 1] strictly
    decreasing, usually `sigmas_for_sampling(...)` ending at 0. init_latents: optional clean
    latents [B, C, F, H, W] to noise to `sigmas[0]` (partial denoising); without it `noise` is
    taken as the latent at `sigmas[0]` (pure noise when that is 1). Returns latents at
    `sigmas[-1]`, in noise's dtype.
    """
    _check_sigmas(sigmas)
    step_sigmas = sigmas.detach().to("cpu", torch.float64).tolist()  # host copy: no GPU syncs
    if init_latents is not None:
        if init_latents.shape != noise.shape:
            raise ValueError(
                f"init_latents {tuple(init_latents.shape)} != noise {tuple(noise.shape)}"
            )
        x = interpolate(init_latents.to(noise.dtype), noise, step_sigmas[0])
    else:
        x = noise
    batch = noise.shape[0]
    # Euler in at least float32 (sigma deltas near 0 are tiny); stored back in the latent dtype.
    work = torch.promote_types(noise.dtype, torch.float32)
    for i in tqdm(range(len(step_sigmas) - 1), disable=not progress, desc="denoise"):
        sigma, sigma_next = step_sigmas[i], step_sigmas[i + 1]
        sigma_b = torch.full((batch,), sigma, dtype=work, device=noise.device)
        velocity = model_fn(x, sigma_b, i)
        if velocity.shape != x.shape:
            got, want = tuple(velocity.shape), tuple(x.shape)
            raise ValueError(f"model_fn returned shape {got}, expected {want}")
        x_next = (x.to(work) + (sigma_next - sigma) * velocity.to(work)).to(noise.dtype)
        if callback is not None:
            x0_pred = predict_x0(x.to(work), velocity.to(work), sigma).to(noise.dtype)
            callback(StepInfo(i, sigma, sigma_next, x, velocity, x0_pred, x_next))
        x = x_next
    return x


def sample_trace(
    model_fn: ModelFn,
    noise: torch.Tensor,
    sigmas: torch.Tensor,
    progress: bool = False,
    init_latents: torch.Tensor | None = None,
) -> SamplingTrace:
    """`sample` that also keeps the clean estimate `x0_pred` of every step (on its device)."""
    trace = SamplingTrace(latents=noise, sigmas=sigmas)
    latents = sample(
        model_fn,
        noise,
        sigmas,
        callback=lambda info: trace.x0_preds.append(info.x0_pred),
        progress=progress,
        init_latents=init_latents,
    )
    trace.latents = latents
    return trace
