"""Clip and WAV writers shared by the media and pipeline tests (raw PyAV / stdlib `wave`).

Lives at the top of tests/ because pytest puts this folder on sys.path (for tests/conftest.py),
so `from clip_testkit import ...` works from every test folder.
"""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def encode_clip(
    path: Path,
    frames: np.ndarray,
    fps: float | Fraction = 25,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    rotation: int | None = None,
    metadata: dict[str, str] | None = None,
    audio: np.ndarray | None = None,
    audio_rate: int = 48_000,
    options: dict[str, str] | None = None,
) -> Path:
    """Write `frames` [T, H, W, 3] with an arbitrary codec / timestamps / rotation / AAC audio."""
    rate = Fraction(fps).limit_denominator(1001000)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate, options=options or {})
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = pix_fmt
        if time_base is not None:
            stream.codec_context.time_base = time_base
            stream.time_base = time_base
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for key, value in (metadata or {}).items():
            stream.metadata[key] = value
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


def write_pcm_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """Write a 16-bit WAV with the stdlib; `samples` is [N] mono or [N, C]."""
    data = samples if samples.ndim == 2 else samples[:, None]
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(data.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((np.clip(data, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 arrays."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)
