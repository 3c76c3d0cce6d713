"""Crop generators that put training artefacts behind the product pipeline, for benchmarking.

The benchmark treats every dubber as a black box `DubPipeline(generator, dubber)`, so face
tracking, alignment, chunking and paste-back are identical for all methods:

- `InpainterGenerator`: the stage-1 inpainter used directly as a dubber (mode "inpaint").
  The pipeline hands a generator crops only, so the lower-face mask is the mask of the MEAN
  face on the canonical aligned crop (`template_mask`), grown by the config's dilation: the
  alignment puts every face there, and the inpainter's own training mask is held over time
  anyway. The output is composited back onto the input crop outside the mask (as in
  `xdub make-pairs`).
- `CodecGenerator`: the crops through the codec and back (no model): run on the ANSWER video,
  it is the ceiling of any crop-level dubber using that codec, measured on the same regions.
Imports: numpy, torch, xdub.{conditioning, config, face, models, pipeline, train}.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from xdub.conditioning import encode_condition, encode_frames, tensor_to_frames
from xdub.config.face import AlignConfig, MaskConfig
from xdub.config.infer import DubberConfig, SamplingConfig
from xdub.face.landmarks import MEAN_SHAPE
from xdub.face.mask import lower_face_mask
from xdub.pipeline.dub import DubPipeline
from xdub.pipeline.generator import ChunkInput, ModelGenerator, SamplerSettings
from xdub.train.inpaint import Inpainter, composite, sample_latents


def template_mask(crop_size: int, align: AlignConfig, mask: MaskConfig) -> np.ndarray:
    """Lower-face mask `[S, S]` float32 of the mean face on the canonical aligned crop."""
    shape = (MEAN_SHAPE.astype(np.float64) - np.array([0.0, align.center_y])) / align.extent
    return lower_face_mask((shape + 0.5) * crop_size, (crop_size, crop_size), mask).astype(
        np.float32)


class InpainterGenerator(ModelGenerator):
    """The stage-1 inpainter behind the pipeline's `CropGenerator` interface."""

    def __init__(self, inpainter: Inpainter, steps: int, name: str = "stage1-inpainter") -> None:
        spec = inpainter.spec
        settings = SamplerSettings(spec.diffusion, steps)
        super().__init__(inpainter.dit, inpainter.codec, inpainter.featurizer,
                         spec.face.align.crop_size, settings, spec.motion_frames,
                         spec.ref_frames, name)
        self.inpainter = inpainter
        self.mask = template_mask(spec.face.align.crop_size, spec.face.align, spec.face.mask)

    def configured(self, sampling: SamplingConfig) -> InpainterGenerator:
        """Same inpainter with a run's steps (guidance scales stay the inpainter's)."""
        steps = sampling.steps if sampling.steps is not None else self.sampler.steps
        return InpainterGenerator(self.inpainter, steps, self.name)

    @torch.inference_mode()
    def generate(self, chunk: ChunkInput, rng: torch.Generator) -> np.ndarray:
        """Inpaint the template lower face of one chunk `[F, S, S, 3]` driven by its audio."""
        masks = np.repeat(self.mask[None], len(chunk.crops), axis=0)
        motion = None
        if chunk.motion_crops is not None and len(chunk.motion_crops):
            motion = encode_frames(self.codec, chunk.motion_crops)[:, :, : self.motion_frames]
        cond = encode_condition(self.codec, chunk.crops, mode="inpaint", mask=masks,
                                ref_crops=chunk.ref_crops, audio_windows=chunk.audio_windows,
                                motion_latents=motion)
        latents = sample_latents(self.dit, cond, self.sampler.diffusion, self.steps, rng)
        raw = tensor_to_frames(self.codec.decode(latents))[0]
        return composite(raw, chunk.crops, masks)


class CodecGenerator(ModelGenerator):
    """Crops through the codec's encode -> decode (no DiT): the codec ceiling at crop level."""

    def __init__(self, base: ModelGenerator) -> None:
        super().__init__(base.dit, base.codec, base.featurizer, base.crop_size, base.sampler,
                         base.motion_frames, base.ref_frames, name="codec-ceiling")

    def configured(self, sampling: SamplingConfig) -> CodecGenerator:
        return self

    @torch.inference_mode()
    def generate(self, chunk: ChunkInput, rng: torch.Generator) -> np.ndarray:
        return tensor_to_frames(self.codec.decode(encode_frames(self.codec, chunk.crops)))[0]


def inpainter_pipeline(inpainter: Inpainter, steps: int, chunk_frames: int | None = None,
                       overlap: int | None = None) -> DubPipeline:
    """A `DubPipeline` whose generator is the stage-1 inpainter (spec geometry and audio)."""
    spec = inpainter.spec
    chunk = chunk_frames or spec.window_frames
    motion = spec.motion_frames * inpainter.codec.temporal_factor if spec.motion_frames else 0
    dubber = DubberConfig(name="stage1-inpainter", codec=spec.codec, audio=spec.audio,
                          face=spec.face, diffusion=replace(spec.diffusion,
                                                            num_inference_steps=steps),
                          chunk_frames=chunk, overlap=overlap if overlap is not None else motion,
                          motion_frames=motion, ref_frames=spec.ref_frames)
    return DubPipeline(InpainterGenerator(inpainter, steps), dubber)


def codec_pipeline(pipeline: DubPipeline) -> DubPipeline:
    """The same pipeline (tracking, crops, paste-back) with the codec round trip as generator."""
    generator = pipeline.generator
    if not isinstance(generator, ModelGenerator):
        raise TypeError("codec_pipeline needs a model-driven pipeline")
    return DubPipeline(CodecGenerator(generator), pipeline.dubber)
