"""xdub.pipeline: dubbing inference (`DubPipeline`) and checkpoint loading (`load_pipeline`).

Imports: xdub.{generation, models, diffusion, face, audio, conditioning, media, config, types,
errors}; never train/data/bench/cli. The generator interface is re-exported from xdub.generation.
"""

from xdub.pipeline.dub import DubPipeline, DubResult
from xdub.generation import ChunkInput, CropGenerator, IdentityGenerator, ModelGenerator
from xdub.pipeline.loading import load_pipeline, random_pipeline, save_pipeline
from xdub.pipeline.progress import DubSummary, Progress
from xdub.pipeline.sources import FileSink, FileSource, MemorySink, MemorySource

__all__ = [
    "ChunkInput",
    "CropGenerator",
    "DubPipeline",
    "DubResult",
    "DubSummary",
    "FileSink",
    "FileSource",
    "IdentityGenerator",
    "MemorySink",
    "MemorySource",
    "ModelGenerator",
    "Progress",
    "load_pipeline",
    "random_pipeline",
    "save_pipeline",
]
