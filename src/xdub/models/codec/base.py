"""The one video-codec interface, re-exported for the codecs (its home is `xdub.model_types`,
so layers below `models` can name it). Imports: xdub.model_types.
"""

from __future__ import annotations

from xdub.model_types import VideoCodec

__all__ = ["VideoCodec"]
