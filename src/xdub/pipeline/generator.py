"""The crop generator interface (pipeline step 5) and its two implementations.

`CropGenerator`: given one chunk of aligned face crops, the audio windows of its latent frames,
optional identity reference crops and the motion frames (the previous chunk's output for this
chunk's first frames), return the new crops. The pipeline only talks to this interface, so it
runs end to end with the identity generator (tests, the crop -> paste-back equivalence), any
compatible checkpoint, a randomly initialised tiny model, or the official Wan-5B release.

`ModelGenerator` is the model-driven one: conditioning through `xdub.conditioning` (the code
path training uses), three-stream guidance and the Euler sampler from `xdub.diffusion`,
optional per-phase LoRA experts, decode with the checkpoint's codec.
Imports: numpy, torch, xdub.{models, diffusion, audio, conditioning, config, types}.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import torch

from xdub.audio import AudioFeaturizer, FeatureSequence
from xdub.audio import windows as audio_windows
from xdub.conditioning import encode_condition, encode_frames, tensor_to_frames
from xdub.config.diffusion import DiffusionConfig
from xdub.config.infer import SamplingConfig
from xdub.diffusion import (
    GuidanceStreams,
    PhaseMap,
    guided_model_fn,
    sample,
    scales_from_config,
    sigma_to_timestep,
    sigmas_for_sampling,
    with_expert_switch,
    zero_fields,
)
from xdub.models import DiTConditioning, XDubDiT, set_active_adapter
from xdub.models.codec import VideoCodec
from xdub.types import AUDIO_SAMPLE_RATE, Audio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkInput:
    """One chunk for a generator (F = a length the codec accepts, padded by the pipeline).

    crops: [F, S, S, 3] uint8 aligned source crops. audio_windows: [F, W, D] float, one window
    per VIDEO frame (`xdub.conditioning` regroups them per latent frame), or None. ref_crops: [R, S, S, 3] uint8 or None. motion_crops:
    [M, S, S, 3] uint8, the previous chunk's output for this chunk's first M frames, or None.
    """

    crops: np.ndarray
    audio_windows: torch.Tensor | None = None
    ref_crops: np.ndarray | None = None
    motion_crops: np.ndarray | None = None


class CropGenerator(Protocol):
    """What the pipeline needs from a dubbing model."""

    name: str
    crop_size: int  # S
    temporal_factor: int  # chunk lengths must be 1 + k * temporal_factor
    motion_frames: int  # M, frames of the previous chunk it continues from (0 = none)
    ref_frames: int  # R, identity reference crops per chunk (0 = none)

    def configured(self, sampling: SamplingConfig) -> CropGenerator:
        """This generator with a run's sampling overrides (steps, guidance scales) applied."""
        ...

    def prepare_audio(self, audio: Audio) -> Any:
        """Encode the whole driving audio once (e.g. a `FeatureSequence`); None if unused."""
        ...

    def audio_windows(self, prepared: Any, first_frame: int, num_frames: int,
                      fps: float) -> torch.Tensor | None:
        """Windows `[F, W, D]` for frames first_frame.. (relative to the audio's start)."""
        ...

    def generate(self, chunk: ChunkInput, rng: torch.Generator) -> np.ndarray:
        """New crops `[F, S, S, 3]` uint8 for `chunk`."""
        ...


class IdentityGenerator:
    """Returns its input crops unchanged: checks crop -> paste-back and chunking exactly."""

    name = "identity"

    def __init__(self, crop_size: int = 64, temporal_factor: int = 1, motion_frames: int = 0,
                 ref_frames: int = 0) -> None:
        self.crop_size, self.temporal_factor = crop_size, temporal_factor
        self.motion_frames, self.ref_frames = motion_frames, ref_frames
        self.calls: list[int] = []  # chunk lengths seen (tests inspect the chunking)
        self.steps = 0

    def configured(self, sampling: SamplingConfig) -> IdentityGenerator:
        return self

    def prepare_audio(self, audio: Audio) -> None:
        return None

    def audio_windows(self, prepared: Any, first_frame: int, num_frames: int,
                      fps: float) -> torch.Tensor | None:
        return None

    def generate(self, chunk: ChunkInput, rng: torch.Generator) -> np.ndarray:
        self.calls.append(int(chunk.crops.shape[0]))
        return chunk.crops.copy()


# ---------------------------------------------------------------------------------------------
# Model-driven generator
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SamplerSettings:
    """Resolved sampling settings of one run."""

    diffusion: DiffusionConfig  # with the run's ref/audio scales and steps applied
    steps: int
    experts: tuple[tuple[str, str], ...] = ()  # (phase, adapter name) attached to the DiT


class ModelGenerator:
    """DiT + codec + audio featurizer behind `CropGenerator`."""

    def __init__(self, dit: XDubDiT, codec: VideoCodec, featurizer: AudioFeaturizer,
                 crop_size: int, sampler: SamplerSettings, motion_frames: int = 0,
                 ref_frames: int = 0, name: str = "model") -> None:
        self.dit, self.codec, self.featurizer = dit.eval(), codec.eval(), featurizer
        self.name, self.crop_size, self.sampler = name, crop_size, sampler
        self.temporal_factor = int(codec.temporal_factor)
        self.motion_frames, self.ref_frames = motion_frames, ref_frames
        param = next(dit.parameters())
        self.device, self.dtype = param.device, param.dtype

    @property
    def steps(self) -> int:
        """Sampling steps per chunk."""
        return self.sampler.steps

    def configured(self, sampling: SamplingConfig) -> ModelGenerator:
        """The same models with a run's steps and guidance scales (None keeps the default)."""
        diffusion = self.sampler.diffusion
        scales = {"ref_scale": sampling.ref_scale, "audio_scale": sampling.audio_scale}
        diffusion = replace(diffusion, **{k: v for k, v in scales.items() if v is not None})
        steps = sampling.steps if sampling.steps is not None else self.sampler.steps
        sampler = SamplerSettings(diffusion, steps, self.sampler.experts)
        return ModelGenerator(self.dit, self.codec, self.featurizer, self.crop_size, sampler,
                              self.motion_frames, self.ref_frames, self.name)

    def prepare_audio(self, audio: Audio) -> FeatureSequence:
        """Featurizer over the whole driving audio (16 kHz mono)."""
        from xdub.pipeline.timeline import resample

        return self.featurizer.encode(resample(audio, AUDIO_SAMPLE_RATE).samples)

    def audio_windows(self, prepared: FeatureSequence, first_frame: int, num_frames: int,
                      fps: float) -> torch.Tensor:
        """`[F, W, D]`: each video frame's window, centred on its own time (k + 0.5) / fps.

        The same windows `featurizer.features` gives training clips: the features are encoded
        once over the whole track, so a chunk's windows do not depend on where chunks start.
        """
        spans = audio_windows.frame_spans(num_frames, first_frame)
        return self.featurizer.gather(prepared, spans, fps, self.featurizer.window)

    @torch.inference_mode()
    def generate(self, chunk: ChunkInput, rng: torch.Generator) -> np.ndarray:
        """Denoise one chunk: condition, sample with guidance, keep motion latents, decode."""
        num = chunk.crops.shape[0]
        motion = None
        if chunk.motion_crops is not None and len(chunk.motion_crops):
            motion = encode_frames(self.codec, chunk.motion_crops)  # [1, C, F_m, h, w]
        cond = encode_condition(self.codec, chunk.crops, mode="edit", ref_crops=chunk.ref_crops,
                                audio_windows=chunk.audio_windows, motion_latents=motion)
        latents = self._sample(cond, rng)
        if motion is not None:  # the DiT's output for motion frames is meaningless: keep them
            latents[:, :, : motion.shape[2]] = motion.to(latents.dtype)
        codec_dtype = next(self.codec.parameters()).dtype
        out = tensor_to_frames(self.codec.decode(latents.to(codec_dtype)))[0]
        assert out.shape[0] == num, f"codec returned {out.shape[0]} frames for {num}"
        return out

    def _sample(self, cond: DiTConditioning, rng: torch.Generator) -> torch.Tensor:
        """Three-stream guided Euler sampling from seeded noise: latents `[1, C, F', h, w]`."""
        diffusion = self.sampler.diffusion
        src = cond.source_latents
        shape = (src.shape[0], self.dit.config.latent_channels, *src.shape[2:])
        # Noise is drawn on the CPU generator: the same seed gives the same video on any device.
        noise = torch.randn(shape, generator=rng, dtype=torch.float32)
        noise = noise.to(self.device, self.dtype)
        streams = GuidanceStreams.from_drops(cond, _drop_reference, _drop_audio)

        def cond_model_fn(x_t: torch.Tensor, sigma: torch.Tensor, c: Any) -> torch.Tensor:
            timestep = sigma_to_timestep(sigma, diffusion.num_train_timesteps)
            return self.dit(x_t, timestep, c)

        model_fn = guided_model_fn(cond_model_fn, streams, scales_from_config(diffusion),
                                   batched=diffusion.guidance_batched,
                                   stack=DiTConditioning.concat)
        sigmas = sigmas_for_sampling(self.sampler.steps, diffusion.shift)
        if self.sampler.experts:
            plan = PhaseMap.from_config(diffusion).experts_for(sigmas, dict(self.sampler.experts))
            model_fn = with_expert_switch(model_fn, plan,
                                          lambda name: set_active_adapter(self.dit, name))
        return sample(model_fn, noise, sigmas)


def _drop_reference(cond: DiTConditioning) -> DiTConditioning:
    """Null-reference stream: source (and identity) latents zeroed, as in training dropout."""
    names: Sequence[str] = ["source_latents"] + (["ref_latents"] if cond.ref_latents is not None
                                                   else [])
    return zero_fields(cond, names)


def _drop_audio(cond: DiTConditioning) -> DiTConditioning:
    """Audio-free stream: audio windows zeroed (the model's "no audio")."""
    if cond.audio_features is None:
        return replace(cond)
    return zero_fields(cond, ["audio_features"])
