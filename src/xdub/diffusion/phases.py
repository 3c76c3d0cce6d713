"""Per-noise-level phase map shared by training and sampling, expert choice, phase measurement.

Three phases along the sampling trajectory (sigma = actual noise level, 1 = pure noise):

    structure   sigma >= structure_lip_sigma          head pose, layout, identity
    lip         lip_texture_sigma <= sigma < ...      mouth shape driven by the audio
    texture     sigma < lip_texture_sigma             teeth, skin, fine detail

Training can restrict timestep sampling to one phase (`sigma_range`) and weight the mouth
region in the lip phase; sampling can switch a LoRA expert per step (`experts_for`,
`with_expert_switch`). The same `PhaseMap` object serves both, so they cannot disagree.

Choosing the boundaries by measurement (`per_sigma_profile`, `active_range`): take a model
trained on all noise levels, a small validation batch `x0` with mouth masks and fixed noise.
For each sigma on a grid, noise `x0`, run the three guidance streams once and record, inside
the mouth mask, the audio attribution `|v(ref+audio) - v(ref)|` (how much the audio changes
the prediction) and the error of the one-step estimate `x0_hat = x_t - sigma * v`. At high
sigma the audio barely matters (the coarse frame is fixed by the reference); in a middle band
the mouth-region error dominates and the audio attribution peaks; at low sigma the mouth shape
is settled and only texture remains. `active_range(sigmas, attribution, 0.5)` returns the band
where the attribution is at least half its peak: its ends are the lip-phase boundaries.
The `wan5b` defaults (0.8, 0.4) sit where the official sampler changes its reference-guidance
level. Imports: torch, numpy, config.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from xdub.config.diffusion import DiffusionConfig

Phase = Literal["structure", "lip", "texture"]
PHASES: tuple[Phase, ...] = ("structure", "lip", "texture")  # high noise -> low noise
ModelFn = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


@dataclass(frozen=True)
class PhaseMap:
    """Sigma boundaries of the structure / lip / texture phases."""

    structure_lip_sigma: float = 0.8
    lip_texture_sigma: float = 0.4

    def __post_init__(self) -> None:
        if not 0.0 < self.lip_texture_sigma < self.structure_lip_sigma < 1.0:
            raise ValueError(
                "need 0 < lip_texture_sigma < structure_lip_sigma < 1, got "
                f"{self.lip_texture_sigma}, {self.structure_lip_sigma}"
            )

    @classmethod
    def from_config(cls, cfg: DiffusionConfig) -> PhaseMap:
        """Phase map with the boundaries of a `DiffusionConfig`."""
        return cls(cfg.structure_lip_sigma, cfg.lip_texture_sigma)

    def phase_of(self, sigma: float) -> Phase:
        """Phase of one noise level (upper boundary belongs to the noisier phase)."""
        if sigma >= self.structure_lip_sigma:
            return "structure"
        return "lip" if sigma >= self.lip_texture_sigma else "texture"

    def phase_ids(self, sigmas: torch.Tensor) -> torch.Tensor:
        """Index into `PHASES` per sigma: `[B]` float -> `[B]` long (0 structure .. 2 texture)."""
        # float64 compare so a float32 sigma lands in the same phase as `phase_of(float(s))`.
        bounds = torch.tensor(
            [self.lip_texture_sigma, self.structure_lip_sigma],
            dtype=torch.float64,
            device=sigmas.device,
        )
        # bucketize counts boundaries <= sigma (right=True): 0 texture, 1 lip, 2 structure.
        return 2 - torch.bucketize(sigmas.double(), bounds, right=True)

    def in_phase(self, sigmas: torch.Tensor, phase: Phase) -> torch.Tensor:
        """Boolean `[B]`: which sigmas fall in `phase` (e.g. to weight the mouth in `lip`)."""
        return self.phase_ids(sigmas) == PHASES.index(phase)

    def sigma_range(self, phase: Phase) -> tuple[float, float]:
        """`(lo, hi)` sigma interval of a phase, for phase-restricted timestep sampling."""
        edges = {
            "structure": (self.structure_lip_sigma, 1.0),
            "lip": (self.lip_texture_sigma, self.structure_lip_sigma),
            "texture": (0.0, self.lip_texture_sigma),
        }
        if phase not in edges:
            raise ValueError(f"unknown phase {phase!r}; use one of {PHASES}")
        return edges[phase]

    def experts_for(
        self, sigmas: torch.Tensor, experts: Mapping[Phase, str | None]
    ) -> list[str | None]:
        """Expert (LoRA adapter name, None = base) for each step of a schedule.

        sigmas: the `[N + 1]` schedule from `sigmas_for_sampling`; step i runs at `sigmas[i]`,
        so N names are returned. Phases missing from `experts` use the base model (None).
        """
        return [experts.get(self.phase_of(float(s))) for s in sigmas[:-1]]


def with_expert_switch(
    model_fn: ModelFn, plan: Sequence[str | None], activate: Callable[[str | None], None]
) -> ModelFn:
    """Wrap `model_fn` so `activate(plan[step])` runs whenever the step's expert changes."""
    current: list[str | None | object] = [object()]  # sentinel: first step always activates

    def switched(x_t: torch.Tensor, sigma: torch.Tensor, step_index: int) -> torch.Tensor:
        expert = plan[step_index]
        if expert != current[0]:
            activate(expert)
            current[0] = expert
        return model_fn(x_t, sigma, step_index)

    return switched


def per_sigma_profile(
    fn: Callable[[float], float | torch.Tensor | np.ndarray], sigmas: Sequence[float] | torch.Tensor
) -> np.ndarray:
    """Evaluate a measurement at each sigma: `[N]` (scalar fn) or `[N, K]` (vector fn), float64."""
    values = []
    for sigma in sigmas:
        out = fn(float(sigma))
        if isinstance(out, torch.Tensor):
            out = out.detach().to("cpu", torch.float64).numpy()
        values.append(np.asarray(out, dtype=np.float64))
    return np.stack(values)


def active_range(
    sigmas: Sequence[float] | np.ndarray | torch.Tensor, profile: np.ndarray, fraction: float = 0.5
) -> tuple[float, float]:
    """`(lo, hi)` sigma band around the profile's peak where it stays >= fraction * peak.

    Band ends are linearly interpolated between grid points, so a coarse grid still gives
    usable phase boundaries. `sigmas` may be ascending or descending.
    """
    s = np.asarray(sigmas, dtype=np.float64)
    p = np.asarray(profile, dtype=np.float64)
    if s.ndim != 1 or p.shape != s.shape or s.size < 2:
        raise ValueError("sigmas and profile must be 1-D of the same length >= 2")
    order = np.argsort(s)
    s, p = s[order], p[order]
    level = fraction * p.max()
    peak = int(np.argmax(p))
    lo_i, hi_i = peak, peak
    while lo_i > 0 and p[lo_i - 1] >= level:
        lo_i -= 1
    while hi_i < s.size - 1 and p[hi_i + 1] >= level:
        hi_i += 1

    def cross(inside: int, outside: int) -> float:
        # Linear interpolation of where the profile meets `level` between two grid points.
        t = (p[inside] - level) / (p[inside] - p[outside])
        return float(s[inside] + t * (s[outside] - s[inside]))

    lo = cross(lo_i, lo_i - 1) if lo_i > 0 else float(s[0])
    hi = cross(hi_i, hi_i + 1) if hi_i < s.size - 1 else float(s[-1])
    return lo, hi
