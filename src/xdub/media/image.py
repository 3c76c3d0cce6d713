"""Still images: RGB frames as PNG bytes and PNG files (thumbnails, sample grids, report strips).

cv2 is imported on first use: `xdub.media` stays importable without loading OpenCV.
Imports: numpy, cv2 (lazily), xdub.atomic, xdub.errors.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from xdub.atomic import write_bytes_atomic
from xdub.errors import OutputError


def encode_png(image: np.ndarray) -> bytes:
    """RGB uint8 `[H, W, 3]` -> PNG bytes (OutputError if OpenCV cannot encode it)."""
    import cv2

    assert image.ndim == 3 and image.shape[-1] == 3, f"image must be [H, W, 3], got {image.shape}"
    ok, data = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
    if not ok:
        raise OutputError(f"cannot encode a {image.shape[1]}x{image.shape[0]} image as PNG")
    return data.tobytes()


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write RGB uint8 `[H, W, 3]` as a PNG file, atomically; return the path."""
    return write_bytes_atomic(path, encode_png(image))
