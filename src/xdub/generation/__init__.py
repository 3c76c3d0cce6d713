"""xdub.generation: the one generation engine under dubbing, pair generation, bench and training.

One generator interface (`CropGenerator`, `ChunkInput`) and its implementations (identity,
the mask-free editor, the stage-1 inpainter, the codec round trip), one guided sampler
(`guided_sample`, integrators by name in `samplers`), one chunk runner (`ChunkRunner`,
`generate_clip`) with the chunk plan and cross-fade (`chunking`), and the dubbing checkpoint
folder's `dubber.json` (`folder`). Below `pipeline`, `data`, `train` and `bench`, so all of
them share it. Imports: xdub.{conditioning, models, diffusion, audio, face, model_types,
config, types, errors}.
"""

from xdub.generation.chunking import Chunk, crossfade, pad_frames, plan_chunks, valid_length
from xdub.generation.generators import (
    CodecGenerator,
    InpaintGenerator,
    ModelGenerator,
    composite,
    editor_generator,
    keep_unchanged,
    protect_occluders,
    template_mask,
)
from xdub.generation.guided import SamplerSettings, guided_sample
from xdub.generation.interface import ChunkInput, CropGenerator, IdentityGenerator
from xdub.generation.runner import ChunkRunner, generate_clip

__all__ = [
    "Chunk",
    "ChunkInput",
    "ChunkRunner",
    "CodecGenerator",
    "CropGenerator",
    "IdentityGenerator",
    "InpaintGenerator",
    "ModelGenerator",
    "SamplerSettings",
    "composite",
    "crossfade",
    "editor_generator",
    "generate_clip",
    "guided_sample",
    "keep_unchanged",
    "protect_occluders",
    "pad_frames",
    "plan_chunks",
    "template_mask",
    "valid_length",
]
