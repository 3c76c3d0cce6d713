"""Config of the noise process (`xdub.diffusion`): schedule, timestep sampling, guidance, phases.

One frozen dataclass, `DiffusionConfig`, and named presets in `DIFFUSION_PRESETS`. Every sigma
here is the *actual* noise level of `x_t = (1 - sigma) * x0 + sigma * noise` (i.e. after the
shift), the same quantity the network sees as `timestep = sigma * num_train_timesteps`.
Imports: stdlib and `xdub.errors` only.

The `wan5b` preset carries the defaults of the official X-Dub (Wan2.2-TI2V-5B) inference code:
shift 5, 50 Euler steps, reference scale 2.5, audio scale 10, "dynamic" guidance schedule. The
official release ships no training code, so the train-time fields of `wan5b` are our choices
(marked "ours" below).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from xdub.errors import ConfigError

TrainSampling = Literal["logit_normal", "shifted_uniform"]
GuidanceSchedule = Literal["constant", "linear", "lip_only", "dynamic"]


@dataclass(frozen=True, slots=True)
class DiffusionConfig:
    """Rectified-flow schedule, train sampling, 3-stream guidance and phase boundaries."""

    # Deleted fields that nothing read (older inpainter.json / dubber.json files carry them).
    RETIRED_KEYS: ClassVar[frozenset[str]] = frozenset({"loss_weighting", "lip_mouth_weight"})

    # --- schedule ----------------------------------------------------------------------------
    num_train_timesteps: int = 1000  # network timestep = sigma * this (Wan convention)
    shift: float = 5.0  # sampling sigma shift; 1 = none, 3..7 typical for video (Wan: 5)
    num_inference_steps: int = 50  # Euler steps; 20 is a usable preview, 50 official
    sampler: str = "euler"  # integrator, a key of xdub.generation.samplers.SAMPLERS
    # --- train-time timestep sampling ---------------------------------------------------------
    train_sampling: TrainSampling = "shifted_uniform"  # ours; matches Wan's shifted training grid
    train_shift: float = 5.0  # shift of the shifted-uniform sampler; keep equal to `shift`
    logit_mean: float = 0.0  # logit-normal location (SD3 uses 0.0)
    logit_std: float = 1.0  # logit-normal scale (SD3 uses 1.0); larger = more mass at ends
    # --- guidance (out = null + ref*(r - null) + audio*(ra - r)) ------------------------------
    ref_scale: float = 2.5  # official default; 1 = no reference guidance, 1.5..3 useful
    audio_scale: float = 10.0  # official default; high because lips are a small region
    guidance_schedule: GuidanceSchedule = "dynamic"  # official uses its sigma-dependent schedule
    guidance_batched: bool = True  # one 3x-batch forward; False = 3 forwards (less memory)
    guidance_reuse_from: float = 1.0  # from this fraction of the steps on, every other step
    #   runs the ref+audio stream only and reuses the last guidance correction; 1 = never
    denoise_strength: float = 1.0  # < 1: sampling starts from the DiT's start latents (an
    #   editor: its source, after the lip prior's rewrite) noised to this unshifted level, with
    #   the same steps over the shorter range (SDEdit); 1 = from pure noise (the released model)
    border_latents: int = 0  # outer latent pixels pinned to the (noised) source while sampling
    #   (`xdub.diffusion.border`; the released inference script: 1); 0 = off
    # --- phases (sigma boundaries, high noise -> low noise) -----------------------------------
    structure_lip_sigma: float = 0.8  # sigma >= this: structure phase (pose, head, layout)
    lip_texture_sigma: float = 0.4  # sigma < this: texture phase; in between: lip phase
    # --- condition dropout (ours; makes null / ref-only / ref+audio streams learnable) --------
    p_drop_ref: float = 0.05  # drop only the reference
    p_drop_audio: float = 0.1  # drop only the audio (teaches the ref-only stream)
    p_drop_both: float = 0.05  # drop both (teaches the null stream)

    def __post_init__(self) -> None:
        if self.num_train_timesteps < 1 or self.num_inference_steps < 1:
            raise ConfigError("DiffusionConfig: timestep counts must be >= 1")
        if self.shift <= 0 or self.train_shift <= 0:
            raise ConfigError("DiffusionConfig: shift and train_shift must be > 0")
        if not 0.0 <= self.guidance_reuse_from <= 1.0:
            raise ConfigError("DiffusionConfig: guidance_reuse_from must be in [0, 1]")
        if self.border_latents < 0:
            raise ConfigError("DiffusionConfig: border_latents must be >= 0")
        if not 0.0 < self.denoise_strength <= 1.0:
            raise ConfigError("DiffusionConfig: denoise_strength must be in (0, 1]")
        if self.logit_std <= 0:
            raise ConfigError("DiffusionConfig: logit_std must be > 0")
        if not 0.0 < self.lip_texture_sigma < self.structure_lip_sigma < 1.0:
            raise ConfigError(
                "DiffusionConfig: need 0 < lip_texture_sigma < structure_lip_sigma < 1, got "
                f"{self.lip_texture_sigma} and {self.structure_lip_sigma}"
            )
        probs = (self.p_drop_ref, self.p_drop_audio, self.p_drop_both)
        if min(probs) < 0 or sum(probs) > 1:
            raise ConfigError("DiffusionConfig: drop probabilities must be >= 0 and sum to <= 1")


DIFFUSION_PRESETS: dict[str, DiffusionConfig] = {
    # Tests and CPU smoke runs: few steps, constant guidance so arithmetic is easy to check.
    "tiny": DiffusionConfig(
        shift=3.0,
        train_shift=3.0,
        num_inference_steps=4,
        guidance_schedule="constant",
        ref_scale=2.0,
        audio_scale=3.0,
    ),
    # Official X-Dub (Wan-5B) inference defaults.
    "wan5b": DiffusionConfig(border_latents=1),
}
