"""Mouth swap: the source mouth becomes the real clip's mouth from far-away frames, crops and
cached latents alike; outside the mouth region the source is untouched."""

from __future__ import annotations

import numpy as np

from xdub.train.pair_windows import PairClip, swap_mouths


def _clip(frames: int = 20, size: int = 8, channels: int = 2) -> PairClip:
    rng = np.random.default_rng(0)
    region = np.zeros((frames, size, size), np.uint8)
    region[:, 4:8, 2:6] = 255  # the mouth: two latent blocks wide at spatial factor 2
    crops = rng.integers(0, 256, (2, frames, size, size, 3), dtype=np.uint8)
    index = np.arange(frames, dtype=np.float32)[None, :, None, None]
    latents = np.stack([np.broadcast_to(index + 100 * k, (channels, frames, 4, 4))
                        for k in (0, 1)]).astype(np.float32)  # value = frame (+100 in V)
    return PairClip("p", 25.0, crops[0], crops[1], region, np.zeros((frames, 2, 3), np.float32),
                    None, latents[0], latents[1])


def test_swapped_mouth_comes_from_distant_real_frames():
    clip = _clip()
    start, frames, gap = 3, 5, 6
    for seed in range(20):
        sample = {"input_crops": clip.input_crops[start:start + frames].copy(),
                  "input_latents": clip.input_latents[:, start:start + frames].copy()}
        swap_mouths(sample, clip, start, frames, gap, np.random.default_rng(seed))
        inside = sample["input_latents"][:, :, 2:4, 1:3]
        assert (inside >= 100).all()  # taken from V
        donors = inside[0, :, 0, 0] - 100
        distance = np.abs(donors - np.arange(start, start + frames))
        assert (np.minimum(distance, 20 - distance) >= gap).all(), donors
        outside = sample["input_latents"][:, :, :2]
        assert np.array_equal(outside, clip.input_latents[:, start:start + frames, :2])
        crops = sample["input_crops"]
        assert np.array_equal(crops[:, :4], clip.input_crops[start:start + frames, :4])
        j = int(donors[0])
        assert np.array_equal(crops[0, 4:8, 2:6], clip.target_crops[j, 4:8, 2:6])


def test_short_clips_are_left_alone():
    clip = _clip(frames=8)
    sample = {"input_crops": clip.input_crops[:5].copy()}
    swap_mouths(sample, clip, 0, 5, 4, np.random.default_rng(0))
    assert np.array_equal(sample["input_crops"], clip.input_crops[:5])
