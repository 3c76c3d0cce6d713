"""The one guided sampler: three-stream guidance, phase experts, schedule, registered integrator.

Every generation path (dubbing, pair generation, the benchmark, training samples) denoises
through `guided_sample`, so a change to guidance or the schedule reaches all of them.
The null streams drop conditions exactly as training dropout does (zeros), see
`xdub.diffusion.guidance`. Imports: torch, xdub.{diffusion, models (adapter switch),
model_types, config, generation.samplers}.
"""

from __future__ import annotations

import logging
import math
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any

import torch

from xdub.config.diffusion import DiffusionConfig
from xdub.config.infer import FAST_GUIDANCE_REUSE_FROM, FAST_STEP_FRACTION
from xdub.diffusion import (
    GuidanceStreams,
    border_mask,
    pin_border,
    PhaseMap,
    guided_model_fn,
    is_reuse_step,
    is_unguided,
    scales_from_config,
    sigma_to_timestep,
    with_pinned_border,
    sigmas_for_sampling,
    with_expert_switch,
    zero_fields,
)
from xdub.generation.samplers import get_sampler
from xdub.model_types import DiTConditioning
from xdub.models import StepCaches, set_active_adapter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamplerSettings:
    """Resolved sampling settings of one run."""

    diffusion: DiffusionConfig  # with the run's ref/audio scales applied
    steps: int
    experts: tuple[tuple[str, str], ...] = ()  # (phase, adapter name) attached to the DiT
    step_cache_threshold: float = 0.0  # first-block step cache (`xdub.models.step_cache`); 0 off

    def __post_init__(self) -> None:
        get_sampler(self.diffusion.sampler)  # an unknown sampler fails when loading, not later

    def with_overrides(self, steps: int | None = None, ref_scale: float | None = None,
                       audio_scale: float | None = None, guidance_reuse_from: float | None = None,
                       fast: bool = False, step_cache_threshold: float | None = None,
                       denoise_strength: float | None = None) -> SamplerSettings:
        """The same settings with a run's steps, guidance scales, reuse and step cache (None
        keeps the value); `fast`: the `--fast` preset (`xdub.config.infer.FAST_*`) on this step
        count."""
        if fast:
            steps = max(1, math.ceil(FAST_STEP_FRACTION * self.steps))
            guidance_reuse_from = FAST_GUIDANCE_REUSE_FROM
        given = {"ref_scale": ref_scale, "audio_scale": audio_scale,
                 "guidance_reuse_from": guidance_reuse_from, "denoise_strength": denoise_strength}
        diffusion = replace(self.diffusion, **{k: v for k, v in given.items() if v is not None})
        cache = self.step_cache_threshold if step_cache_threshold is None else step_cache_threshold
        return SamplerSettings(diffusion, self.steps if steps is None else steps, self.experts,
                               cache)

    @property
    def reuse_from_step(self) -> int | None:
        """First step index of guidance reuse (`guidance_reuse_from` is a fraction of the steps);
        None when it is off (>= 1)."""
        reuse = self.diffusion.guidance_reuse_from
        return None if reuse >= 1.0 else math.ceil(reuse * self.steps)

    @property
    def sigmas(self) -> torch.Tensor:
        """The run's descending sigmas `[steps + 1]` (from below 1 with a denoise strength)."""
        return sigmas_for_sampling(self.steps, self.diffusion.shift,
                                   self.diffusion.denoise_strength)

    @property
    def evaluations_per_chunk(self) -> int:
        """DiT evaluations (batch rows) one chunk costs: 3 guidance streams per step, 1 on a
        guidance-reuse step (`xdub.diffusion.is_reuse_step`) or an unguided one (both scales 1,
        `xdub.diffusion.is_unguided`)."""
        first, scales = self.reuse_from_step, scales_from_config(self.diffusion)
        sigmas = self.sigmas
        cheap = sum(is_reuse_step(step, first) or is_unguided(*scales(sigmas[step:step + 1]))
                    for step in range(self.steps))
        return 3 * self.steps - 2 * cheap


def drop_reference(cond: DiTConditioning) -> DiTConditioning:
    """Null-reference stream: source (and identity) latents zeroed, as in training dropout."""
    names = ["source_latents"] + (["ref_latents"] if cond.ref_latents is not None else [])
    return zero_fields(cond, names)


def drop_audio(cond: DiTConditioning) -> DiTConditioning:
    """Audio-free stream: audio windows zeroed (the model's "no audio")."""
    if cond.audio_features is None:
        return replace(cond)
    return zero_fields(cond, ["audio_features"])


def start_latents(dit: torch.nn.Module, cond: DiTConditioning) -> torch.Tensor:
    """What a partial denoise (`denoise_strength` < 1) starts from: the DiT's own
    `start_latents` (a lip-prior editor: the rewritten source), else the source latents."""
    own = getattr(dit, "start_latents", None)
    if own is not None:
        return own(cond)
    if cond.source_latents.shape[1] != dit.config.latent_channels:
        raise ValueError("denoise_strength < 1 needs source latents with the latents' channels "
                         "(an editor, not an inpainter)")
    return cond.source_latents


def guided_sample(dit: torch.nn.Module, cond: DiTConditioning, settings: SamplerSettings,
                  rng: torch.Generator, init: torch.Tensor | None = None) -> torch.Tensor:
    """Clean latents `[B, C, F', h, w]` for `cond` (motion latents written back unchanged).

    `init`: latents a partial denoise starts from instead of `start_latents` (e.g. stage 1
    from retrieved real mouths, `xdub.train.retrieval`); unused at `denoise_strength` 1.

    Noise is drawn on the CPU `rng`, so a seed gives the same video on any device; the DiT's
    device and dtype place it.
    """
    diffusion = settings.diffusion
    src = cond.source_latents
    param = next(dit.parameters())
    shape = (src.shape[0], dit.config.latent_channels, *src.shape[2:])
    noise = torch.randn(shape, generator=rng, dtype=torch.float32).to(param.device, param.dtype)
    streams = GuidanceStreams.from_drops(cond, drop_reference, drop_audio)
    # Step caches live for this call only: nothing carries over to the next chunk or video.
    caches = StepCaches(settings.step_cache_threshold)

    def cond_model_fn(x_t: torch.Tensor, sigma: torch.Tensor, c: Any) -> torch.Tensor:
        timestep = sigma_to_timestep(sigma, diffusion.num_train_timesteps)
        cache = caches.for_condition(c)
        return dit(x_t, timestep, c) if cache is None else dit(x_t, timestep, c, step_cache=cache)

    def switch_expert(name: str) -> None:
        set_active_adapter(dit, name)
        caches.clear()  # another adapter is another network: its residuals differ

    model_fn = guided_model_fn(cond_model_fn, streams, scales_from_config(diffusion),
                               batched=diffusion.guidance_batched, stack=DiTConditioning.concat,
                               reuse_from=settings.reuse_from_step)
    sigmas = settings.sigmas
    if diffusion.denoise_strength < 1.0:  # SDEdit: the start latents, noised to sigmas[0]
        start = (start_latents(dit, cond) if init is None else init).to(noise)
        noise = (1.0 - sigmas[0].item()) * start + sigmas[0].item() * noise
    border = None
    if diffusion.border_latents > 0:  # the crop's edge stays the source's (released setting)
        if src.shape[1] != noise.shape[1]:
            raise ValueError("border_latents needs source latents with the latents' channels "
                             "(an editor, not an inpainter)")
        start = cond.motion_latents.shape[2] if cond.motion_latents is not None else 0
        border = border_mask(noise.shape, start, diffusion.border_latents, noise.device)
        model_fn = with_pinned_border(model_fn, src, noise, border)
    if settings.experts:
        plan = PhaseMap.from_config(diffusion).experts_for(sigmas, dict(settings.experts))
        model_fn = with_expert_switch(model_fn, plan, switch_expert)
    # The DiT computes its step-constant inputs (empty-prompt K/V, RoPE) once for the chunk.
    constant_inputs = getattr(dit, "constant_inputs", None)
    with constant_inputs() if constant_inputs is not None else nullcontext():
        latents = get_sampler(diffusion.sampler)(model_fn, noise, sigmas)
    full, cached = caches.counts
    if cached:  # `xdub -v` shows what the step cache saved
        log.info("step cache: %d of %d stream evaluations ran the first DiT block only",
                 cached, full + cached)
    if border is not None:
        latents = pin_border(latents, src, border)
    if cond.motion_latents is not None:  # the network's motion-frame outputs are meaningless
        latents[:, :, : cond.motion_latents.shape[2]] = cond.motion_latents.to(latents.dtype)
    return latents
