"""Audio file I/O: any audio file or a video's audio track -> mono float32 `Audio`, and back.

`read_audio` holds the whole track; `iter_audio` yields the same samples piece by piece and
`FileAudio` reads them on demand (a long track costs no memory, #13).
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
from collections import deque
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
from xdub.types import AUDIO_SAMPLE_RATE, Audio, AudioTrack

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
) -> Iterator[tuple[float, np.ndarray]]:
    """Decoded, resampled mono float32 pieces in order, each with the time in s of the first
    decoded sample (the same value in every tuple)."""
    origin = time_origin(container)
    if start > 0 and stream.time_base:
        try:
            container.seek(int((start + origin) / stream.time_base), stream=stream, backward=True)
        except FFmpegError:
            logger.debug("audio seek failed in %s; decoding from the start", path)
    layout = "mono" if stream.codec_context.channels <= 1 else "stereo"
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
    first_time = None
    decoded = False
    try:
        for frame in container.decode(stream):
            if first_time is None:
                first_time = float(frame.time) - origin if frame.time is not None else 0.0
            for r in resampler.resample(frame):
                decoded = True
                yield first_time, r.to_ndarray().mean(axis=0)
            if end is not None and frame.time is not None and frame.time - origin > end + 0.1:
                break  # far enough past `end`; the tail is trimmed by sample count
        for r in resampler.resample(None):
            decoded = True
            yield first_time or 0.0, r.to_ndarray().mean(axis=0)
    except (FFmpegError, ValueError) as err:  # ValueError: format changed mid-stream
        if not decoded:
            raise MediaError(f"cannot decode audio of {path}: {describe_error(err)}") from None
        logger.warning("%s: audio decode error (%s); audio ends there", path, describe_error(err))


def _stream_end(container: InputContainer, stream: AudioStream) -> float | None:
    """End of the stream in s on the container clock; drops the encoder's end padding (AAC)."""
    if not (stream.duration and stream.time_base):
        return None
    return (float(stream.duration * stream.time_base)
            + float((stream.start_time or 0) * stream.time_base) - time_origin(container))


def iter_audio(
    path: str | os.PathLike,
    sample_rate: int = AUDIO_SAMPLE_RATE,
    start: float = 0.0,
    end: float | None = None,
) -> Iterator[np.ndarray]:
    """`read_audio`'s samples piece by piece, in order (what `FileAudio` streams).

    Cut to [start, end) (or the stream's end): silence is prepended when the track starts
    after `start`, so a video's frames and its audio stay in sync.
    """
    if start < 0 or (end is not None and end <= start):
        raise ValueError(f"bad audio range start={start}, end={end}")
    return _iter_trimmed(path, sample_rate, start, end)


def _iter_trimmed(path: PathLike, sample_rate: int, start: float,
                  end: float | None) -> Iterator[np.ndarray]:
    """`iter_audio` after its argument checks."""
    with open_input(path) as container, media_errors(path, "decode audio of"):
        stream = first_audio_stream(container, path)
        stop = end if end is not None else _stream_end(container, stream)
        limit = None if stop is None else max(int(round((stop - start) * sample_rate)), 0)
        emitted, skip = 0, None
        for first_time, piece in _decode_mono(container, stream, path, sample_rate, start, end):
            if skip is None:  # first piece: where `start` falls relative to the first sample
                offset = int(round((start - first_time) * sample_rate))
                skip = max(offset, 0)
                if offset < 0:
                    piece = np.concatenate([np.zeros(-offset, np.float32), piece])
            drop = min(skip, len(piece))
            piece, skip = piece[drop:], skip - drop
            if limit is not None:
                piece = piece[: limit - emitted]
            if len(piece):
                emitted += len(piece)
                yield piece.astype(np.float32, copy=False)
            if limit is not None and emitted >= limit:
                return


def read_audio(
    path: str | os.PathLike,
    sample_rate: int = AUDIO_SAMPLE_RATE,
    start: float = 0.0,
    end: float | None = None,
) -> Audio:
    """Read an audio file or a video's audio track as mono float32 at `sample_rate` Hz."""
    pieces = list(iter_audio(path, sample_rate, start, end))
    if not pieces:
        raise MediaError(f"no audio samples in {path} {_where(start)}")
    return Audio(samples=np.ascontiguousarray(np.concatenate(pieces)), sample_rate=sample_rate)


def _where(start: float) -> str:
    """The range part of a "no audio samples" message."""
    return f"from {start} s on" if start > 0 else "(zero-length audio)"


class FileAudio:
    """An audio file (or a video's audio track) as an `AudioTrack`, decoded on demand.

    Holds no more than a few seconds of samples: the constructor decodes the file once to
    count them (so bad media fails here, as `read_audio` would); reads continue one decode,
    keeping the last `HISTORY_SECONDS` so a second reader slightly behind (a debug video's
    track, a filter's margin) is served too; a read further back starts a new decode. The
    samples are `read_audio`'s.
    """

    HISTORY_SECONDS = 2.0

    def __init__(self, path: str | os.PathLike, sample_rate: int = AUDIO_SAMPLE_RATE,
                 start: float = 0.0, end: float | None = None) -> None:
        self.path, self.sample_rate = Path(path), int(sample_rate)
        self._range = (start, end)
        self._num_samples = sum(len(p) for p in iter_audio(path, sample_rate, start, end))
        if not self._num_samples:
            raise MediaError(f"no audio samples in {path} {_where(start)}")
        self._pieces: Iterator[np.ndarray] | None = None  # the decode reads continue
        self._kept: deque[np.ndarray] = deque()  # its latest pieces, in order ...
        self._first = self._end = 0  # ... covering samples [_first, _end)

    @property
    def num_samples(self) -> int:
        """N, samples in the track."""
        return self._num_samples

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self._num_samples / self.sample_rate

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples `[start, min(stop, N))` as float32."""
        stop = min(stop, self._num_samples)
        if self._pieces is None or start < self._first:
            self._pieces = iter_audio(self.path, self.sample_rate, *self._range)
            self._kept.clear()
            self._first = self._end = 0
        while self._end < stop:
            piece = next(self._pieces, None)
            if piece is None:  # the file changed since it was counted
                break
            self._kept.append(piece)
            self._end += len(piece)
        parts, position = [], self._first
        for piece in self._kept:
            lo, hi = max(start, position), min(stop, position + len(piece))
            if lo < hi:
                parts.append(piece[lo - position: hi - position])
            position += len(piece)
        history = self._end - round(self.HISTORY_SECONDS * self.sample_rate)
        while self._kept and self._first + len(self._kept[0]) <= min(start, history):
            self._first += len(self._kept.popleft())
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)


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
    """Feeds a mono track into an audio stream piecewise, so muxing can interleave (and a
    `FileAudio` is read as it is encoded, never held whole)."""

    CHUNK = 4096  # input samples per AudioFrame handed to the resampler

    def __init__(self, stream: AudioStream, audio: AudioTrack) -> None:
        self.stream = stream
        self.audio = audio
        self.position = 0  # next input sample to encode
        self.resampler = av.AudioResampler(
            format=stream.codec_context.format.name, layout="mono", rate=stream.rate
        )

    def encode_until(self, seconds: float | None) -> list[av.Packet]:
        """Packets for the input up to `seconds` (None: all of it, then flush the encoder)."""
        total = self.audio.num_samples
        stop = (
            total if seconds is None else min(int(round(seconds * self.audio.sample_rate)), total)
        )
        packets = []
        while self.position < stop:
            n = min(self.CHUNK, stop - self.position)
            chunk = self.audio.read(self.position, self.position + n).astype(np.float32)
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
