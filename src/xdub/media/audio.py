"""Audio file I/O: any audio file or a video's audio track -> mono float32 `Audio`, and back.

Reading decodes with PyAV and resamples with `av.AudioResampler`; channels are averaged to
mono ((L + R) / 2 keeps a centred voice at its level; FFmpeg's own stereo->mono matrix adds
+3 dB and can clip). Times are seconds from the container start, the clock `iter_frames`
uses, so a video's frames and its audio stay in sync. Damage rule as for video: a decode
error after some samples keeps them (warning); before any sample it raises `MediaError`.
Imports: av, numpy, stdlib wave, xdub.types, xdub.errors, xdub.media.
"""

from __future__ import annotations

import contextlib
import logging
import os
import wave
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.container import OutputContainer
from av.error import FFmpegError

from xdub.atomic import atomic_path
from xdub.errors import MediaError, OutputError
from xdub.media.output import check_output_path
from xdub.media.source import (
    AudioStream,
    InputContainer,
    PathLike,
    describe_error,
    first_audio_stream,
    media_errors,
    open_input,
    time_origin,
)
from xdub.types import AUDIO_SAMPLE_RATE, Audio

logger = logging.getLogger(__name__)

# Encoders for `write_audio`, by extension: (codec, sample rate or None to keep the input's).
AUDIO_ENCODERS = {
    ".wav": ("pcm_s16le", None),
    ".flac": ("flac", None),
    ".mp3": ("libmp3lame", None),
    ".m4a": ("aac", 48_000),  # 48 kHz: the rate every AAC decoder and player handles
    ".ogg": ("libopus", 48_000),  # Opus only runs at 48 kHz (and a few lower fixed rates)
    ".opus": ("libopus", 48_000),
}


def _decode_mono(
    container: InputContainer,
    stream: AudioStream,
    path: PathLike,
    sample_rate: int,
    start: float,
    end: float | None,
) -> tuple[np.ndarray, float]:
    """Decode + resample to mono float32; returns (samples, time of samples[0] in s)."""
    origin = time_origin(container)
    if start > 0 and stream.time_base:
        try:
            container.seek(int((start + origin) / stream.time_base), stream=stream, backward=True)
        except FFmpegError:
            logger.debug("audio seek failed in %s; decoding from the start", path)
    layout = "mono" if stream.codec_context.channels <= 1 else "stereo"
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
    chunks: list[np.ndarray] = []
    first_time = None
    try:
        for frame in container.decode(stream):
            if first_time is None:
                first_time = float(frame.time) - origin if frame.time is not None else 0.0
            chunks.extend(r.to_ndarray().mean(axis=0) for r in resampler.resample(frame))
            if end is not None and frame.time is not None and frame.time - origin > end + 0.1:
                break  # far enough past `end`; the tail is trimmed by sample count below
        chunks.extend(r.to_ndarray().mean(axis=0) for r in resampler.resample(None))
    except (FFmpegError, ValueError) as err:  # ValueError: format changed mid-stream
        if not chunks:
            raise MediaError(f"cannot decode audio of {path}: {describe_error(err)}") from None
        logger.warning("%s: audio decode error (%s); audio ends there", path, describe_error(err))
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    return samples, (first_time or 0.0)


def _trim(
    samples: np.ndarray,
    first_time: float,
    sample_rate: int,
    start: float,
    end: float | None,
    stream_end: float | None,
) -> np.ndarray:
    """Cut `samples` (starting at `first_time`) to [start, end); pad silence before a late start."""
    offset = int(round((start - first_time) * sample_rate))
    if offset >= 0:
        samples = samples[offset:]
    else:  # the track starts after `start`: keep it in sync by leading silence
        samples = np.concatenate([np.zeros(-offset, np.float32), samples])
    stop = end if end is not None else stream_end
    if stop is not None:
        samples = samples[: max(int(round((stop - start) * sample_rate)), 0)]
    return samples


def read_audio(
    path: str | os.PathLike,
    sample_rate: int = AUDIO_SAMPLE_RATE,
    start: float = 0.0,
    end: float | None = None,
) -> Audio:
    """Read an audio file or a video's audio track as mono float32 at `sample_rate` Hz."""
    if start < 0 or (end is not None and end <= start):
        raise ValueError(f"bad audio range start={start}, end={end}")
    with open_input(path) as container, media_errors(path, "decode audio of"):
        stream = first_audio_stream(container, path)
        samples, first_time = _decode_mono(container, stream, path, sample_rate, start, end)
        stream_end = None
        if stream.duration and stream.time_base:  # drops the encoder's end padding (AAC)
            stream_end = (
                float(stream.duration * stream.time_base)
                + float((stream.start_time or 0) * stream.time_base)
                - time_origin(container)
            )
    samples = _trim(samples, first_time, sample_rate, start, end, stream_end)
    if samples.size == 0:
        where = f"from {start} s on" if start > 0 else "(zero-length audio)"
        raise MediaError(f"no audio samples in {path} {where}")
    return Audio(samples=np.ascontiguousarray(samples), sample_rate=sample_rate)


def _pcm16(audio: Audio) -> np.ndarray:
    """Samples as int16 PCM, clipped to [-1, 1] first."""
    return (np.clip(audio.samples, -1.0, 1.0) * 32767.0).round().astype("<i2")


@contextlib.contextmanager
def _temp_output(out: Path) -> Iterator[Path]:
    """A temp file beside `out`, moved over it when the block succeeds and removed otherwise.

    An I/O or FFmpeg failure inside the block becomes a one-line `OutputError`.
    """
    try:
        with atomic_path(out) as tmp:
            yield tmp
    except FFmpegError as err:  # atomic_path has removed the temp file
        raise OutputError(f"cannot write {out}: {describe_error(err)}") from None


def write_wav(path: str | os.PathLike, audio: Audio) -> Path:
    """Write 16-bit PCM mono WAV atomically (temp file + rename); return the final path."""
    out = check_output_path(path, extensions=(".wav",))
    with _temp_output(out) as tmp, wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(int(audio.sample_rate))
        wav.writeframes(_pcm16(audio).tobytes())
    return out


def write_audio(path: str | os.PathLike, audio: Audio) -> Path:
    """Write mono audio as .wav/.flac/.mp3/.m4a/.ogg/.opus (by extension), atomically."""
    out = check_output_path(path, extensions=tuple(AUDIO_ENCODERS))
    if out.suffix.lower() == ".wav":
        return write_wav(out, audio)
    codec, rate = AUDIO_ENCODERS[out.suffix.lower()]
    with _temp_output(out) as tmp, av.open(str(tmp), mode="w") as container:
        encode_audio_track(container, codec, audio, rate or int(audio.sample_rate))
    return out


def encode_audio_track(container: OutputContainer, codec: str, audio: Audio, rate: int) -> None:
    """Encode all of `audio` into a new mono stream of `container` (resampled to `rate`)."""
    stream = container.add_stream(codec, rate=rate, layout="mono")
    assert isinstance(stream, AudioStream), f"{codec} is not an audio codec"
    stream.time_base = Fraction(1, rate)
    encoder = AudioEncoder(stream, audio)
    for packet in encoder.encode_until(None):
        container.mux(packet)


class AudioEncoder:
    """Feeds a mono `Audio` into an audio stream piecewise, so muxing can interleave."""

    CHUNK = 4096  # input samples per AudioFrame handed to the resampler

    def __init__(self, stream: AudioStream, audio: Audio) -> None:
        self.stream = stream
        self.audio = audio
        self.position = 0  # next input sample to encode
        self.resampler = av.AudioResampler(
            format=stream.codec_context.format.name, layout="mono", rate=stream.rate
        )

    def encode_until(self, seconds: float | None) -> list[av.Packet]:
        """Packets for the input up to `seconds` (None: all of it, then flush the encoder)."""
        total = len(self.audio.samples)
        stop = (
            total if seconds is None else min(int(round(seconds * self.audio.sample_rate)), total)
        )
        packets = []
        while self.position < stop:
            n = min(self.CHUNK, stop - self.position)
            chunk = self.audio.samples[self.position : self.position + n].astype(np.float32)
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
            frame.sample_rate = int(self.audio.sample_rate)
            frame.pts = self.position
            frame.time_base = Fraction(1, int(self.audio.sample_rate))
            self.position += n
            for out in self.resampler.resample(frame):
                packets.extend(self.stream.encode(out))
        if seconds is None:
            for out in self.resampler.resample(None):
                packets.extend(self.stream.encode(out))
            packets.extend(self.stream.encode(None))
        return packets
