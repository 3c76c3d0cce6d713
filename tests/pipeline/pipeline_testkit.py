"""Builders for xdub.pipeline tests: synthetic talking-head clips, files, tiny pipelines."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
from clip_testkit import encode_clip, psnr
from clip_testkit import write_pcm_wav as write_wav

from xdub.config.face import AlignConfig, FaceConfig
from xdub.config.infer import DubberConfig
from xdub.pipeline import DubPipeline, IdentityGenerator
from xdub.types import Audio

__all__ = ["digest", "encode", "identity_pipeline", "leftovers", "psnr", "run_cli", "speech_at",
           "talking_clip", "write_wav"]


@lru_cache(maxsize=4)
def talking_clip(width: int = 320, height: int = 240, fps: float = 30.0,
                 seconds: float = 1.0, seed: int = 3) -> tuple[np.ndarray, Audio, Audio]:
    """(frames [T, H, W, 3], its own speech, other speech of the same length) from the engine."""
    from xdub.config.synth import SynthConfig
    from xdub.synth.clip import render_pair

    a, b = render_pair(seed, SynthConfig(size=(width, height), fps=fps, duration=seconds))
    a.frames.setflags(write=False)
    return a.frames, a.audio, b.audio


def identity_pipeline(crop: int = 64, chunk_frames: int = 8, overlap: int = 2,
                      motion_frames: int = 0, generator=None) -> DubPipeline:
    """A pipeline whose generator returns its input crops (or `generator`)."""
    spec = DubberConfig(name="identity", face=FaceConfig(align=AlignConfig(crop_size=crop)),
                        chunk_frames=chunk_frames, overlap=overlap, motion_frames=motion_frames)
    return DubPipeline(generator or IdentityGenerator(crop, motion_frames=motion_frames), spec)


def encode(path: Path, frames: np.ndarray, fps: float = 30.0, audio: np.ndarray | None = None,
           audio_rate: int = 48_000, pts: list[int] | None = None,
           time_base: Fraction | None = None, rotation: int | None = None) -> Path:
    """Write RGB frames (high-quality H.264) with optional timestamps, rotation and AAC audio."""
    return encode_clip(path, frames, fps, pts=pts, time_base=time_base, rotation=rotation,
                       audio=audio, audio_rate=audio_rate,
                       options={"crf": "10", "preset": "ultrafast"})


def speech_at(audio: Audio, rate: int) -> np.ndarray:
    """The engine's 16 kHz speech resampled to `rate` (linear interpolation is enough here)."""
    n = round(audio.duration * rate)
    t = np.arange(n) / rate
    return np.interp(t, np.arange(len(audio.samples)) / audio.sample_rate,
                     audio.samples).astype(np.float32)


def digest(path: Path) -> str:
    """sha256 of a file (inputs must be untouched)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    """Temp files a failed write would leave behind."""
    return sorted(p.name for p in Path(folder).iterdir() if ".partial" in p.name)


def run_cli(capsys, *args: str | Path) -> tuple[int, str, str]:
    """`xdub ARGS` in-process: (exit code, stdout, stderr)."""
    from xdub.cli.main import main

    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err
