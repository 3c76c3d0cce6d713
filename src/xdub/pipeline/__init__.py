"""xdub.pipeline: dubbing inference (`DubPipeline`) and checkpoint loading (`load_pipeline`).

Imports: xdub.{models, diffusion, face, audio, conditioning, media, config, types, errors};
never train/data/bench/cli.
"""

from xdub.pipeline.dub import DubPipeline, DubResult
from xdub.pipeline.generator import ChunkInput, CropGenerator, IdentityGenerator, ModelGenerator
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
