"""Builders for xdub.media tests: synthetic frames and tones (clip/WAV writers: clip_testkit)."""

from __future__ import annotations

import numpy as np
from clip_testkit import encode_clip, psnr, write_pcm_wav

__all__ = ["encode_clip", "frame_index", "gradient_frames", "level_frames", "psnr", "sine",
           "write_pcm_wav"]


def gradient_frames(num: int, width: int = 64, height: int = 48) -> np.ndarray:
    """Smooth moving gradients `[T, H, W, 3]` uint8 (codec-friendly, each frame distinct)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty((num, height, width, 3), np.uint8)
    for t in range(num):
        phase = 2 * np.pi * t / max(num, 8)
        out[t, ..., 0] = 128 + 80 * np.sin(xx / width * 2 * np.pi + phase)
        out[t, ..., 1] = 128 + 80 * np.cos(yy / height * 2 * np.pi - phase)
        out[t, ..., 2] = 40 + 160 * (xx + yy) / (width + height)
    return out


def level_frames(num: int, width: int = 32, height: int = 32) -> np.ndarray:
    """Flat gray frames whose level encodes the frame index (index = round(level / 8))."""
    levels = (np.arange(num) * 8 + 8) % 256
    return np.broadcast_to(levels[:, None, None, None], (num, height, width, 3)).astype(np.uint8)


def frame_index(frame: np.ndarray) -> int:
    """Invert `level_frames`."""
    return int(round(float(frame.mean()) / 8.0)) - 1


def sine(freq: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    """A float32 sine tone."""
    t = np.arange(int(round(seconds * rate))) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
