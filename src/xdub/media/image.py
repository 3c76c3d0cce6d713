"""Still images: RGB frames as PNG bytes and PNG or JPEG files (thumbnails, sample grids, report strips).

cv2 is imported on first use: `xdub.media` stays importable without loading OpenCV.
Imports: numpy, cv2 (lazily), xdub.atomic, xdub.errors.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from xdub.atomic import write_bytes_atomic
from xdub.errors import OutputError


def encode_image(image: np.ndarray, ext: str = ".png", jpeg_quality: int = 95) -> bytes:
    """RGB uint8 `[H, W, 3]` -> bytes of the format `ext` names (".png", ".jpg"; JPEG at
    `jpeg_quality`, OpenCV's default 95); OutputError if OpenCV cannot encode it."""
    import cv2

    assert image.ndim == 3 and image.shape[-1] == 3, f"image must be [H, W, 3], got {image.shape}"
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if ext.lower() in (".jpg", ".jpeg") else []
    ok, data = cv2.imencode(ext, cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR),
                            params)
    if not ok:
        raise OutputError(f"cannot encode a {image.shape[1]}x{image.shape[0]} image as {ext}")
    return data.tobytes()


def encode_png(image: np.ndarray) -> bytes:
    """RGB uint8 `[H, W, 3]` -> PNG bytes (OutputError if OpenCV cannot encode it)."""
    return encode_image(image, ".png")


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write RGB uint8 `[H, W, 3]` as a PNG file, atomically; return the path."""
    return write_bytes_atomic(path, encode_png(image))


def write_image(path: str | os.PathLike, image: np.ndarray, jpeg_quality: int = 95) -> Path:
    """Write RGB uint8 `[H, W, 3]` in the format the path's suffix names (PNG or JPEG),
    atomically; return the path."""
    return write_bytes_atomic(path, encode_image(image, Path(path).suffix or ".png", jpeg_quality))
