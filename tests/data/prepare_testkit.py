"""A long synthetic 'raw video' with known events, for the `xdub prepare` tests.

Built from the synthetic engine's renders with numpy compositing: hard cuts between shots of
different characters, shots whose audio is delayed by +3 and -2 frames, a face-less stretch
(a slowly panning texture) and a two-face stretch (two renders side by side).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from xdub.config.synth import SCENARIOS
from xdub.media import write_video
from xdub.models.sync_offsets import shift_audio
from xdub.synth.clip import render_clip
from xdub.types import AUDIO_SAMPLE_RATE, Audio

FPS = 25.0
SIZE = (256, 160)  # (width, height) of the long video
# (kind, seconds, audio delay in frames, seed)
SHOTS = (("face", 2.4, 0, 11), ("face", 2.4, 3, 12), ("face", 2.4, -2, 13),
         ("empty", 2.0, 0, 14), ("two", 2.4, 0, 15))


def _render(seed: int, size: tuple[int, int], seconds: float):
    cfg = replace(SCENARIOS["standard"], size=size, duration=seconds, fps=FPS)
    return render_clip(seed, cfg)


def _empty(seed: int, num: int) -> np.ndarray:
    """Face-less frames: a smooth colour texture panning slowly (no cut inside)."""
    rng = np.random.default_rng(seed)
    w, h = SIZE
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (h, w * 2, 3)).astype(np.float32), (0, 0), 9)
    texture = cv2.normalize(texture, None, 30, 220, cv2.NORM_MINMAX).astype(np.uint8)
    return np.stack([texture[:, k: k + w] for k in range(num)])


def build_long_video(path: Path) -> dict:
    """Write the video; return the truth: cut frames and, per shot, (start, stop, kind, delay)."""
    frames, audio, shots, cuts = [], [], [], []
    start = 0
    for kind, seconds, delay, seed in SHOTS:
        num = round(seconds * FPS)
        samples = np.zeros(round(num / FPS * AUDIO_SAMPLE_RATE), np.float32)
        if kind == "face":
            clip = _render(seed, SIZE, seconds)
            video, samples = clip.frames, clip.audio.samples
        elif kind == "two":
            left, right = _render(seed, (SIZE[0] // 2, SIZE[1]), seconds), \
                _render(seed + 100, (SIZE[0] // 2, SIZE[1]), seconds)
            video, samples = np.concatenate([left.frames, right.frames], axis=2), \
                left.audio.samples
        else:
            video = _empty(seed, num)
        if delay:
            samples = shift_audio(samples, delay, FPS, AUDIO_SAMPLE_RATE)
        if start:
            cuts.append(start)
        shots.append((start, start + num, kind, delay))
        frames.append(video[:num])
        audio.append(samples[: round(num / FPS * AUDIO_SAMPLE_RATE)])
        start += num
    write_video(path, np.concatenate(frames), FPS, Audio(np.concatenate(audio), AUDIO_SAMPLE_RATE))
    return {"cuts": cuts, "shots": shots, "num_frames": start}
