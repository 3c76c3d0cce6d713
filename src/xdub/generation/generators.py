"""The model-driven implementations of `CropGenerator`, all sampling through `guided_sample`.

- `ModelGenerator`: the mask-free editor (stage 2, `xdub dub`): condition on the whole crops.
- `InpaintGenerator`: the stage-1 inpainter as a generator (mode "inpaint"): regenerates the
  chunk's masks (`ChunkInput.masks`, or the lower face of the mean face on the canonical crop,
  `template_mask`, when the caller has no landmarks), optionally composited onto the input.
- `CodecGenerator`: the crops through the codec and back (no DiT): run on the ANSWER video, it
  is the ceiling of any crop-level dubber using that codec.
Imports: numpy, torch, xdub.{audio, conditioning, config, face, models, model_types, types,
generation}.
"""

from __future__ import annotations

import copy
import dataclasses
from contextlib import AbstractContextManager, nullcontext

import cv2
import numpy as np
import torch

from xdub.audio import AudioFeaturizer, FeatureSequence
from xdub.audio import windows as audio_windows
from xdub.audio.resample import resample_blocks
from xdub.conditioning import encode_condition, encode_frames, tensor_to_frames
from xdub.config.face import AlignConfig, MaskConfig
from xdub.config.infer import DubberConfig, KeepConfig, OccluderKeepConfig, SamplingConfig
from xdub.face.landmarks import MEAN_SHAPE
from xdub.face.mask import grow, lower_face_mask
from xdub.generation.guided import SamplerSettings, guided_sample
from xdub.generation.interface import ChunkInput
from xdub.generation.offload import PhaseOffload
from xdub.model_types import DiTConditioning, VideoCodec
from xdub.models.occluder_net import OccluderNet
from xdub.types import AUDIO_SAMPLE_RATE, AudioTrack


class ModelGenerator:
    """DiT + codec + audio featurizer behind `CropGenerator` (mask-free edit mode)."""

    def __init__(self, dit: torch.nn.Module, codec: VideoCodec, featurizer: AudioFeaturizer,
                 crop_size: int, sampler: SamplerSettings, motion_frames: int = 0,
                 ref_frames: int = 0, name: str = "model", keep: KeepConfig = KeepConfig(),
                 occluder_net: OccluderNet | None = None,
                 occluders: OccluderKeepConfig = OccluderKeepConfig()) -> None:
        self.dit, self.codec, self.featurizer = dit.eval(), codec.eval(), featurizer
        self.keep = keep
        # What covers the face keeps the input's pixels (None: no segmenter, nothing kept).
        self.occluder_net = occluder_net.eval() if occluder_net is not None else None
        self.occluders = occluders
        self.name, self.crop_size, self.sampler = name, crop_size, sampler
        self.temporal_factor = int(codec.temporal_factor)
        self.motion_frames, self.ref_frames = motion_frames, ref_frames
        self.offload: PhaseOffload | None = None  # None: every model stays on its device

    def enable_offload(self, idle: torch.device | str = "cpu") -> None:
        """Phase offload (`xdub.generation.offload`): models wait on `idle` and each phase
        moves its own to the device the DiT is on now."""
        self.offload = PhaseOffload(next(self.dit.parameters()).device, idle)
        self.offload.park(self.featurizer, self.codec, self.dit)

    def phase(self, *owners: object) -> AbstractContextManager:
        """The models of `owners` on the compute device for one phase (no-op without offload)."""
        return nullcontext() if self.offload is None else self.offload.phase(*owners)

    @property
    def steps(self) -> int:
        """Sampling steps per chunk."""
        return self.sampler.steps

    def configured(self, sampling: SamplingConfig) -> ModelGenerator:
        """The same models with a run's steps, guidance scales, reuse and step cache, or its
        `fast` preset (None keeps the default), without the occluder segmenter when the run
        turns `keep_occluders` off."""
        configured = copy.copy(self)
        configured.sampler = self.sampler.with_overrides(
            sampling.steps, sampling.ref_scale, sampling.audio_scale,
            sampling.guidance_reuse_from, sampling.fast, sampling.step_cache_threshold,
            sampling.denoise_strength)
        if not sampling.keep_occluders:
            configured.occluder_net = None
        return configured

    def prepare_audio(self, audio: AudioTrack) -> FeatureSequence:
        """Featurizer over the whole driving audio (16 kHz mono), read block by block."""
        with self.phase(self.featurizer):
            return self.featurizer.encode_blocks(resample_blocks(audio, AUDIO_SAMPLE_RATE))

    def audio_windows(self, prepared: FeatureSequence, first_frame: int, num_frames: int,
                      fps: float) -> torch.Tensor:
        """`[tf - 1 + F, W, D]`: each video frame's window, centred on its own time
        (k + 0.5) / fps, for the chunk's F frames and the tf - 1 frames before it.

        Those lead-in frames are what the chunk's first latent frame hears, as in the released
        model (`conditioning.group_audio_windows`); before the audio's start they clamp to its
        first feature. The features are encoded once over the whole track, so a chunk's windows
        do not depend on where chunks start; training clips get the same windows from
        `featurizer.features`.
        """
        lead_in = self.temporal_factor - 1
        spans = audio_windows.frame_spans(num_frames + lead_in, first_frame - lead_in)
        return self.featurizer.gather(prepared, spans, fps, self.featurizer.window)

    @torch.inference_mode()
    def generate(self, chunk: ChunkInput, rng: torch.Generator) -> np.ndarray:
        """Denoise one chunk: condition, guided sampling (motion latents kept), decode."""
        motion = None
        covered = None  # occluder probability per crop pixel [F, S, S]
        if self.occluder_net is not None:  # small: it stays on its device under offload
            covered = self.occluder_net.probabilities(chunk.crops)
        with self.phase(self.codec):
            if chunk.motion_crops is not None and len(chunk.motion_crops):
                motion = encode_frames(self.codec, chunk.motion_crops)  # [1, C, F_m, h, w]
            condition = self.condition(chunk, motion)
            init = None if chunk.start_crops is None else encode_frames(self.codec,
                                                                        chunk.start_crops)
        if covered is not None:
            seen = latent_visibility(covered, condition.source_latents.shape[-2:], self.occluders)
            condition = dataclasses.replace(condition, source_visibility=seen.to(
                condition.source_latents.device))
        with self.phase(self.dit):
            latents = guided_sample(self.dit, condition, self.sampler, rng, init)
        num = len(chunk.crops)
        with self.phase(self.codec):
            out = self.decode(latents)
            if self.keep.enabled:  # the source's own latents decoded: "unchanged" looks so
                assert condition.source_latents.shape == latents.shape, "keep needs edit mode"
                out = keep_unchanged(out, self.decode(condition.source_latents), chunk.crops,
                                     self.keep)
        if covered is not None:
            out = protect_occluders(out, chunk.crops, covered, self.occluders)
        assert out.shape[0] == num, f"codec returned {out.shape[0]} frames for {num}"
        return self.finish(chunk, out)

    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """`[1, C, f, h, w]` latents -> `[F, S, S, 3]` uint8 crops."""
        codec_dtype = next(self.codec.parameters()).dtype
        return tensor_to_frames(self.codec.decode(latents.to(codec_dtype)))[0]

    def condition(self, chunk: ChunkInput, motion: torch.Tensor | None) -> DiTConditioning:
        """The DiT conditioning of one chunk (the editor sees the whole source crops)."""
        return encode_condition(self.codec, chunk.crops, mode="edit", ref_crops=chunk.ref_crops,
                                audio_windows=chunk.audio_windows, motion_latents=motion)

    def finish(self, chunk: ChunkInput, decoded: np.ndarray) -> np.ndarray:
        """The decoded crops as returned (the editor's are final)."""
        return decoded


def template_mask(crop_size: int, align: AlignConfig, mask: MaskConfig) -> np.ndarray:
    """Lower-face mask `[S, S]` float32 of the mean face on the canonical aligned crop."""
    shape = (MEAN_SHAPE.astype(np.float64) - np.array([0.0, align.center_y])) / align.extent
    return lower_face_mask((shape + 0.5) * crop_size, (crop_size, crop_size), mask).astype(
        np.float32)


def keep_unchanged(decoded: np.ndarray, unchanged: np.ndarray, original: np.ndarray,
                   cfg: KeepConfig) -> np.ndarray:
    """`original` where `decoded` barely differs from `unchanged` (the source's own latents
    decoded), `decoded` where the editor changed it (uint8 `[T, S, S, 3]`, see `KeepConfig`)."""
    change = np.abs(decoded.astype(np.float32) - unchanged.astype(np.float32)).max(axis=-1)
    if cfg.blur > 0:
        change = np.stack([cv2.GaussianBlur(c, (0, 0), cfg.blur) for c in change])
    return composite(decoded, original, smoothstep(change, cfg.low, cfg.high))


def protect_occluders(decoded: np.ndarray, original: np.ndarray, covered: np.ndarray,
                      cfg: OccluderKeepConfig) -> np.ndarray:
    """`original` where the occluder probability `covered: [T, S, S]` (grown by `cfg.grow` px)
    is above `cfg.high`, `decoded` below `cfg.low`, smoothstep between (uint8 `[T, S, S, 3]`)."""
    return composite(decoded, original, 1.0 - occluder_alpha(covered, cfg))


def occluder_alpha(covered: np.ndarray, cfg: OccluderKeepConfig) -> np.ndarray:
    """`[T, S, S]` in [0, 1]: how far each pixel counts as occluded (1: keep the input), from
    the occluder probability grown by `cfg.grow` px, smoothstep between `cfg.low` and `high`."""
    if cfg.grow > 0:
        covered = np.stack([grow(c.astype(np.float32), cfg.grow) for c in covered])
    return smoothstep(covered, cfg.low, cfg.high)


def latent_visibility(covered: np.ndarray, grid: tuple[int, int],
                      cfg: OccluderKeepConfig) -> torch.Tensor:
    """`[1, 1, T, h, w]` float32: the share of each latent pixel (a cell of the crop) that no
    occluder hides, from the occluder probability `covered: [T, S, S]`. A cell counts as hidden
    as soon as any of its pixels is (`occluder_alpha`, as `protect_occluders` keeps them): a
    hand's edge inside a cell already colours its latent."""
    hidden = torch.from_numpy(occluder_alpha(covered, cfg).astype(np.float32))
    hidden = torch.nn.functional.adaptive_max_pool2d(hidden[:, None], tuple(grid))[:, 0]
    return (1.0 - hidden)[None, None]


def smoothstep(value: np.ndarray, low: float, high: float) -> np.ndarray:
    """0 below `low`, 1 above `high`, the smooth cubic 3x^2 - 2x^3 between."""
    alpha = np.clip((value - low) / (high - low), 0.0, 1.0)
    return alpha * alpha * (3.0 - 2.0 * alpha)


def composite(generated: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`original` outside the feathered `mask: [T, S, S]`, `generated` inside (uint8
    `[T, S, S, 3]`)."""
    alpha = np.clip(mask.astype(np.float32), 0.0, 1.0)[..., None]
    mixed = original.astype(np.float32) * (1.0 - alpha) + generated.astype(np.float32) * alpha
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


class InpaintGenerator(ModelGenerator):
    """The stage-1 inpainter behind `CropGenerator`: regenerates the masked lower face.

    `template`: `[S, S]` mask used when a chunk brings no `masks` (the dubbing pipeline hands a
    generator crops only). `composited`: return the input outside the mask (a dubber) or the
    raw decoded crops (pair generation composites its own region later).
    """

    def __init__(self, dit: torch.nn.Module, codec: VideoCodec, featurizer: AudioFeaturizer,
                 crop_size: int, sampler: SamplerSettings, motion_frames: int = 0,
                 ref_frames: int = 0, name: str = "stage1-inpainter",
                 template: np.ndarray | None = None, composited: bool = True) -> None:
        super().__init__(dit, codec, featurizer, crop_size, sampler, motion_frames, ref_frames,
                         name)
        self.template, self.composited = template, composited

    def _masks(self, chunk: ChunkInput) -> np.ndarray:
        if chunk.masks is not None:
            return chunk.masks
        assert self.template is not None, "InpaintGenerator needs chunk masks or a template"
        return np.repeat(self.template[None], len(chunk.crops), axis=0)

    def condition(self, chunk: ChunkInput, motion: torch.Tensor | None) -> DiTConditioning:
        """Masked crops + mask channels, references, audio, motion latents."""
        return encode_condition(self.codec, chunk.crops, mode="inpaint", mask=self._masks(chunk),
                                ref_crops=chunk.ref_crops, audio_windows=chunk.audio_windows,
                                motion_latents=motion)

    def finish(self, chunk: ChunkInput, decoded: np.ndarray) -> np.ndarray:
        """Composited onto the input outside the mask, or raw."""
        return composite(decoded, chunk.crops, self._masks(chunk)) if self.composited else decoded


class CodecGenerator(ModelGenerator):
    """Crops through the codec's encode -> decode (no DiT): the codec ceiling at crop level."""

    def __init__(self, base: ModelGenerator) -> None:
        super().__init__(base.dit, base.codec, base.featurizer, base.crop_size, base.sampler,
                         base.motion_frames, base.ref_frames, name="codec-ceiling")

    def configured(self, sampling: SamplingConfig) -> CodecGenerator:
        return self

    @torch.inference_mode()
    def generate(self, chunk: ChunkInput, rng: torch.Generator) -> np.ndarray:
        with self.phase(self.codec):
            return tensor_to_frames(self.codec.decode(encode_frames(self.codec, chunk.crops)))[0]


def editor_generator(spec: DubberConfig, dit: torch.nn.Module, codec: VideoCodec,
                     featurizer: AudioFeaturizer, experts: tuple[tuple[str, str], ...] = (),
                     steps: int | None = None, name: str | None = None,
                     occluder_net: OccluderNet | None = None) -> ModelGenerator:
    """The generator a dubbing checkpoint (`spec` = its dubber.json) describes; `occluder_net`
    is used only where `spec.occluders.enabled`."""
    settings = SamplerSettings(spec.diffusion, steps or spec.diffusion.num_inference_steps,
                               experts)
    prior = getattr(dit, "lip_prior", None)
    if prior is not None:
        prior.gate_power = spec.prior_gate_power
        prior.chunk_trim = spec.prior_chunk_trim
    return ModelGenerator(dit, codec, featurizer, spec.crop_size, settings, spec.motion_frames,
                          spec.ref_frames, name=name or spec.name, keep=spec.keep,
                          occluder_net=occluder_net if spec.occluders.enabled else None,
                          occluders=spec.occluders)
