"""Builders for xdub.face tests: scenes made of the astronaut photo (a real public-domain face)."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import skimage.data

from xdub.face.detect import FaceDetection

# Face region of skimage.data.astronaut() (512x512): the face spans ~x 175-275, y 65-175.
FACE_BOX = (150, 40, 300, 200)


def face_patch(size: int) -> np.ndarray:
    """The astronaut's head, square `[size, size, 3]` uint8."""
    x0, y0, x1, y1 = FACE_BOX
    return cv2.resize(skimage.data.astronaut()[y0:y1, x0:x1], (size, size),
                      interpolation=cv2.INTER_AREA)


def background(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, face-free backdrop `[H, W, 3]` uint8 (blurred coloured noise)."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 255, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    return cv2.GaussianBlur(cv2.resize(noise, (width, height)), (0, 0), 6)


def place(canvas: np.ndarray, patch: np.ndarray, x: float, y: float, size: int) -> np.ndarray:
    """Paste `patch` resized to `size` with its top-left at (x, y) (sub-pixel), in place."""
    scale = size / patch.shape[0]
    m = np.array([[scale, 0, x], [0, scale, y]], np.float64)
    warped = cv2.warpAffine(patch, m, canvas.shape[1::-1], flags=cv2.INTER_LINEAR)
    cover = cv2.warpAffine(np.ones(patch.shape[:2], np.float32), m, canvas.shape[1::-1])
    canvas[:] = (canvas * (1 - cover[..., None]) + warped * cover[..., None]).astype(np.uint8)
    return canvas


def two_face_sequence(num: int = 12, height: int = 240, width: int = 480) -> np.ndarray:
    """`[T, H, W, 3]`: two copies of the face, one drifting right and growing, one drifting left."""
    patch = face_patch(160)
    frames = []
    for t in range(num):
        canvas = background(height, width)
        place(canvas, patch, 20 + 3.0 * t, 40 + 1.0 * t, 130 + 2 * t)
        place(canvas, patch, 300 - 2.5 * t, 50 - 0.5 * t, 140 - 1 * t)
        frames.append(canvas)
    return np.stack(frames)


def jittered_detections(num: int, noise_px: float, rng: np.random.Generator) -> list[FaceDetection]:
    """A face moving smoothly right with i.i.d. pixel noise on its box and landmarks."""
    from xdub.face.landmarks import MEAN_SHAPE

    out = []
    for t in range(num):
        centre = np.array([100.0 + 1.5 * t, 120.0])
        lm = MEAN_SHAPE * 40.0 + centre + rng.normal(0, noise_px, MEAN_SHAPE.shape)
        box = np.concatenate([lm.min(0), lm.max(0)]) + rng.normal(0, noise_px, 4)
        out.append(FaceDetection(box.astype(np.float32), 0.9, lm.astype(np.float32)))
    return out


def write_clip(path: Path, frames: np.ndarray, fps: int = 10) -> Path:
    """Encode RGB frames `[T, H, W, 3]` as H.264 (high quality) with raw PyAV."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "12"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
