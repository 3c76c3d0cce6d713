"""Train-time noise-level sampling: logit-normal and shifted-uniform, optionally phase-restricted.

Both samplers return *shifted* sigmas `[B]` in [0, 1] (the actual noise level; the network
timestep is `sigma * num_train_timesteps`). A `sigma_range=(lo, hi)` restricts the draw to one
phase (see `phases.PhaseMap.sigma_range`) by inverse-CDF truncation, so the restricted
distribution is exactly the full one conditioned on the range (no rejection loop, and the
number of random draws does not depend on the range, which keeps runs reproducible).
Randomness comes only from the explicit `torch.Generator`. Imports: torch, config, schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from xdub.config.diffusion import DiffusionConfig, TrainSampling
from xdub.diffusion.schedule import shift_sigma, unshift_sigma

SigmaRange = tuple[float, float]


def _check_range(sigma_range: SigmaRange | None) -> SigmaRange:
    lo, hi = (0.0, 1.0) if sigma_range is None else sigma_range
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"sigma_range must satisfy 0 <= lo < hi <= 1, got {sigma_range}")
    return float(lo), float(hi)


def _uniform(batch_size: int, lo: float, hi: float, generator: torch.Generator) -> torch.Tensor:
    """`[B]` float64 uniform in [lo, hi) drawn on the generator's device."""
    u = torch.rand(batch_size, generator=generator, dtype=torch.float64, device=generator.device)
    return lo + (hi - lo) * u


def logit_normal_sigmas(
    batch_size: int,
    generator: torch.Generator,
    mean: float = 0.0,
    std: float = 1.0,
    sigma_range: SigmaRange | None = None,
) -> torch.Tensor:
    """`sigmoid(mean + std * N(0, 1))`, truncated to `sigma_range`; `[B]` float32."""
    lo, hi = _check_range(sigma_range)
    if std <= 0:
        raise ValueError(f"std must be > 0, got {std}")
    bounds = torch.tensor([lo, hi], dtype=torch.float64)
    # Truncate in normal space: CDF of the range ends, uniform between them, inverse CDF.
    z_bounds = (torch.logit(bounds) - mean) / std
    cdf_lo, cdf_hi = torch.special.ndtr(z_bounds).tolist()
    z = torch.special.ndtri(_uniform(batch_size, cdf_lo, cdf_hi, generator))
    sigma = torch.sigmoid(mean + std * z)
    return sigma.clamp(lo, hi).to(torch.float32)


def shifted_uniform_sigmas(
    batch_size: int,
    generator: torch.Generator,
    shift: float = 1.0,
    sigma_range: SigmaRange | None = None,
) -> torch.Tensor:
    """`shift_sigma(U(0, 1), shift)`, truncated to `sigma_range`; `[B]` float32."""
    lo, hi = _check_range(sigma_range)
    # The shift is monotonic, so truncating the uniform to the pre-image range is exact.
    u_lo, u_hi = float(unshift_sigma(lo, shift)), float(unshift_sigma(hi, shift))
    sigma = shift_sigma(_uniform(batch_size, u_lo, u_hi, generator), shift)
    return sigma.clamp(lo, hi).to(torch.float32)


@dataclass(frozen=True)
class TrainSigmaSampler:
    """Draws training sigmas `[B]` with the distribution named in a `DiffusionConfig`."""

    kind: TrainSampling = "shifted_uniform"
    shift: float = 1.0  # shifted_uniform only
    logit_mean: float = 0.0  # logit_normal only
    logit_std: float = 1.0  # logit_normal only

    @classmethod
    def from_config(cls, cfg: DiffusionConfig) -> TrainSigmaSampler:
        """Sampler for `cfg.train_sampling` with its parameters."""
        return cls(cfg.train_sampling, cfg.train_shift, cfg.logit_mean, cfg.logit_std)

    def __call__(
        self,
        batch_size: int,
        generator: torch.Generator,
        sigma_range: SigmaRange | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """`[B]` float32 sigmas on `device` (default: the generator's device)."""
        if self.kind == "logit_normal":
            sigma = logit_normal_sigmas(
                batch_size, generator, self.logit_mean, self.logit_std, sigma_range
            )
        elif self.kind == "shifted_uniform":
            sigma = shifted_uniform_sigmas(batch_size, generator, self.shift, sigma_range)
        else:
            raise ValueError(f"unknown train sampling {self.kind!r}")
        return sigma if device is None else sigma.to(device)
