"""xdub: mask-free visual dubbing (X-Dub method), from tiny CPU models to the Wan-5B release.

Public API: `DubPipeline`, `load_pipeline`, `__version__`. The pipeline names load lazily (on
first attribute access), so `import xdub` stays cheap: no torch, no models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xdub.version import __version__

__all__ = ["DubPipeline", "__version__", "load_pipeline"]

if TYPE_CHECKING:
    from xdub.pipeline import DubPipeline, load_pipeline


def __getattr__(name: str) -> Any:
    if name in ("DubPipeline", "load_pipeline"):
        import xdub.pipeline

        return getattr(xdub.pipeline, name)
    raise AttributeError(f"module 'xdub' has no attribute {name!r}")
