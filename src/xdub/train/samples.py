"""Periodic training samples: inpaint held-out clips and write a PNG grid + one MP4 per clip.

Each clip is shown as three columns, [masked input | generated (composited) | original],
upscaled 2x; the grid stacks a few frames of every clip. Imports: numpy, cv2, torch,
xdub.{media, conditioning, data, train}.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import torch

from xdub.data.crops import PreparedClip
from xdub.errors import XdubError
from xdub.generation import composite
from xdub.train.inpaint import Inpainter, inpaint_clip

log = logging.getLogger(__name__)


def trim_clip(clip: PreparedClip, num_frames: int) -> PreparedClip:
    """The first `num_frames` frames of a prepared clip."""
    c = clip.crops
    crops = type(c)(c.crops[:num_frames], c.affines[:num_frames], c.masks[:num_frames],
                    c.mouth_masks[:num_frames], c.landmarks[:num_frames])
    return PreparedClip(clip.clip_id, clip.fps, crops, clip.audio_windows[:num_frames], clip.meta)


def upscale(frames: np.ndarray, scale: int) -> np.ndarray:
    """[T, H, W, 3] -> [T, H*scale, W*scale, 3], nearest neighbour (pixels stay visible)."""
    if scale == 1:
        return frames
    return np.stack([cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
                     for f in frames])


def write_sample_videos(folder: Path, videos: list[tuple[np.ndarray, float]]) -> list[Path]:
    """clip_K.mp4 for each (`[T, H, W, 3]` video, fps) (skipped with a warning if it cannot be
    encoded) and grid.png: three frames of every video, one column each."""
    from xdub.media import write_png, write_video

    paths = []
    for k, (video, fps) in enumerate(videos):
        try:
            paths.append(write_video(folder / f"clip_{k}.mp4", video, fps, crf=12))
        except XdubError as err:  # a missing encoder must not kill a training run
            log.warning("sample video not written: %s", err)
    if videos:
        columns = [np.concatenate(list(v[np.linspace(0, len(v) - 1, 3).round().astype(int)]),
                                  axis=0) for v, _ in videos]
        paths.append(write_png(folder / "grid.png", np.concatenate(columns, axis=1)))
    return paths


def side_by_side(clip: PreparedClip, generated: np.ndarray, scale: int = 2) -> np.ndarray:
    """[T, S, 3S, 3] uint8 (x scale): masked input | composited output | original."""
    c = clip.crops
    masked = (c.crops.astype(np.float32) * (1.0 - c.masks[..., None]) + 127.5 * c.masks[..., None])
    output = composite(generated, c.crops, c.masks)
    row = np.concatenate([masked.round().astype(np.uint8), output, c.crops], axis=2)
    return upscale(row, scale)


def write_samples(inp: Inpainter, clips: list[PreparedClip], folder: Path, num_steps: int,
                  seed: int = 0) -> list[Path]:
    """Inpaint each clip with its own audio (reconstruction) and write grid.png + clip_K.mp4."""
    videos = []
    for k, clip in enumerate(clips):
        gen = torch.Generator().manual_seed(seed + k)
        generated = inpaint_clip(inp, clip, clip.audio_windows, num_steps, gen,
                                 np.random.default_rng(seed + k))
        videos.append((side_by_side(clip, generated), clip.fps))
    return write_sample_videos(folder, videos)
