"""xdub.api: the stable Python entry point, `DubbingPipeline` (docs/api.md).

A thin layer over `xdub.pipeline` (the algorithm) that the CLI (`xdub dub`, `xdub faces`),
the web app (`xdub serve`) and user code all call: inputs by path or in memory, options by
name, progress callbacks, face thumbnails, warnings and the lip-sync score.
Imports: xdub.{pipeline, bench, media, face, config, types, errors}; only cli/web import it.
"""

from xdub.api.dubbing import DubbingPipeline, DubInputs, open_inputs
from xdub.api.faces import FaceThumbnail, find_faces
from xdub.api.options import OPTIONS, infer_config
from xdub.pipeline import DubResult, DubSummary
from xdub.pipeline.progress import ProgressUpdate

__all__ = ["OPTIONS", "DubInputs", "DubResult", "DubSummary", "DubbingPipeline", "FaceThumbnail",
           "ProgressUpdate", "find_faces", "infer_config", "open_inputs"]
