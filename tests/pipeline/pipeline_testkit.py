"""Builders for xdub.pipeline tests: synthetic talking-head clips, files, tiny pipelines."""

from __future__ import annotations

import hashlib
import wave
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np

from xdub.config.face import AlignConfig, FaceConfig
from xdub.config.infer import DubberConfig
from xdub.pipeline import DubPipeline, IdentityGenerator
from xdub.types import Audio


@lru_cache(maxsize=4)
def talking_clip(width: int = 320, height: int = 240, fps: float = 30.0,
                 seconds: float = 1.0, seed: int = 3) -> tuple[np.ndarray, Audio, Audio]:
    """(frames [T, H, W, 3], its own speech, other speech of the same length) from the engine."""
    from xdub.config.synth import SynthConfig
    from xdub.data.synth.clip import render_pair

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
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001000),
                                      options={"crf": "10", "preset": "ultrafast"})
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        if time_base is not None:
            stream.codec_context.time_base = time_base
            stream.time_base = time_base
        if rotation is not None:
            stream.set_display_rotation(rotation)
        sound = None
        if audio is not None:
            sound = container.add_stream("aac", rate=audio_rate, layout="mono")
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = pts[i] if pts is not None else i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if sound is not None:
            chunk = av.AudioFrame.from_ndarray(audio[None, :].astype(np.float32), format="flt",
                                               layout="mono")
            chunk.sample_rate, chunk.pts = audio_rate, 0
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=audio_rate)
            for piece in resampler.resample(chunk):
                container.mux(sound.encode(piece))
            container.mux(sound.encode(None))
    return path


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """16-bit PCM WAV; `samples` is [N] mono or [N, C]."""
    data = samples if samples.ndim == 2 else samples[:, None]
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(data.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((np.clip(data, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def speech_at(audio: Audio, rate: int) -> np.ndarray:
    """The engine's 16 kHz speech resampled to `rate` (linear interpolation is enough here)."""
    n = round(audio.duration * rate)
    t = np.arange(n) / rate
    return np.interp(t, np.arange(len(audio.samples)) / audio.sample_rate,
                     audio.samples).astype(np.float32)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 arrays."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


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
