"""xdub: mask-free visual dubbing (X-Dub method), from tiny CPU models to the Wan-5B release.

Public API: `DubbingPipeline` (the documented entry point, docs/api.md), `DubPipeline`,
`load_pipeline`, `__version__`. The names load lazily (on first attribute access), so
`import xdub` stays cheap: no torch, no models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xdub.version import __version__

__all__ = ["DubPipeline", "DubResult", "DubbingPipeline", "__version__", "load_pipeline"]

if TYPE_CHECKING:
    from xdub.api import DubbingPipeline, DubResult
    from xdub.pipeline import DubPipeline, load_pipeline


def __getattr__(name: str) -> Any:
    if name in ("DubbingPipeline", "DubResult"):
        import xdub.api

        return getattr(xdub.api, name)
    if name in ("DubPipeline", "load_pipeline"):
        import xdub.pipeline

        return getattr(xdub.pipeline, name)
    raise AttributeError(f"module 'xdub' has no attribute {name!r}")
