"""Open media files for reading and turn every PyAV / OS failure into a one-line `MediaError`.

All readers in `xdub.media` go through `open_input` and `media_errors`, so no `av.error.*` or
`OSError` escapes the public functions. Imports: av, xdub.errors.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.error import EOFError as AVEOFError
from av.error import FFmpegError
from av.video.stream import VideoStream

from xdub.errors import MediaError

PathLike = str | os.PathLike  # what every public function accepts as a file name

# Demuxers that hold one still picture; a still is treated as a 1-frame video.
IMAGE_FORMATS = frozenset(
    {
        "image2",
        "png_pipe",
        "jpeg_pipe",
        "webp_pipe",
        "bmp_pipe",
        "tiff_pipe",
        "gif",
        "gif_pipe",
        "pgm_pipe",
        "ppm_pipe",
    }
)


def describe_error(err: BaseException) -> str:
    """A short single-line reason for an av/OS error (no FFmpeg log dump, no newlines)."""
    if isinstance(err, FFmpegError):
        reason = err.strerror or type(err).__name__
    elif isinstance(err, OSError):
        reason = err.strerror or str(err)
    else:
        reason = str(err) or type(err).__name__
    return " ".join(str(reason).split())


def check_input_path(path: str | os.PathLike) -> Path:
    """Return `path` as a Path, or raise MediaError if it is missing, a folder, or empty."""
    p = Path(path)
    if not p.exists():
        raise MediaError(f"file not found: {p}")
    if p.is_dir():
        raise MediaError(f"{p} is a directory, not a media file")
    try:
        size = p.stat().st_size
    except OSError as err:
        raise MediaError(f"cannot read {p}: {describe_error(err)}") from None
    if size == 0:
        raise MediaError(f"{p} is empty (0 bytes), not a media file")
    return p


def open_input(path: str | os.PathLike) -> InputContainer:
    """Open a media file for demuxing; raise MediaError naming the file on any failure."""
    p = check_input_path(path)
    try:
        return av.open(str(p), mode="r", metadata_errors="replace")
    except AVEOFError:
        raise MediaError(
            f"cannot read {p}: it ends before any media data (truncated or " "zero-length)"
        ) from None
    except (FFmpegError, OSError, ValueError, UnicodeDecodeError) as err:
        raise MediaError(
            f"cannot read {p}: not a recognised media file ({describe_error(err)})"
        ) from None


@contextmanager
def media_errors(path: str | os.PathLike, action: str = "decode") -> Iterator[None]:
    """Re-raise av / OS errors inside the block as `MediaError("cannot <action> <path>: ...")`."""
    try:
        yield
    except (FFmpegError, OSError) as err:
        raise MediaError(f"cannot {action} {path}: {describe_error(err)}") from None


def _raise_if_no_streams(container: InputContainer, path: PathLike) -> None:
    """A file with no streams at all is empty media (an mp4 drops tracks without samples)."""
    if not len(container.streams):
        raise MediaError(f"no media streams in {path} (zero-length or not a media file)")


def first_video_stream(container: InputContainer, path: PathLike) -> VideoStream:
    """The first video stream, or MediaError("no video stream in X")."""
    if not container.streams.video:
        _raise_if_no_streams(container, path)
        raise MediaError(f"no video stream in {path}")
    return container.streams.video[0]


def first_audio_stream(container: InputContainer, path: PathLike) -> AudioStream:
    """The first audio stream, or MediaError("no audio stream in X")."""
    if not container.streams.audio:
        _raise_if_no_streams(container, path)
        raise MediaError(f"no audio stream in {path}")
    return container.streams.audio[0]


def time_origin(container: InputContainer) -> float:
    """Seconds subtracted from every timestamp so media time starts at 0.

    The container start (earliest stream) is used for audio and video alike, which keeps
    them in sync; a negative start (AAC priming, B-frame edit lists) is treated as 0.
    """
    start = container.start_time  # in AV_TIME_BASE (microseconds) or None
    return max(float(start) / 1e6, 0.0) if start else 0.0


def is_still_image(container: InputContainer) -> bool:
    """True when the file is a single picture (png/jpg/...), decoded by an image demuxer."""
    names = set(container.format.name.split(","))
    return bool(names & IMAGE_FORMATS)


def to_fraction(rate: float | Fraction) -> Fraction:
    """A frame rate as an exact fraction; 29.97-style floats map to e.g. 30000/1001."""
    if isinstance(rate, Fraction):
        return rate
    if not rate > 0:
        raise ValueError(f"frame rate must be > 0, got {rate}")
    return Fraction(rate).limit_denominator(1001 * 1000)
