"""Streaming video decode with PyAV: frames as uint8 RGB `[H, W, 3]`, display-rotated.

Timing rule ("sample-and-hold to a constant grid"): when `fps` is given, or the stream has a
variable frame rate, output frame k is shown at t_k = start + k / fps and is the latest decoded
frame whose timestamp is <= t_k; grid points before the first frame take the first frame, and
the grid runs until `end` or the end of the last frame's display interval. With `fps=None` on a
constant-rate stream, frames come out exactly as decoded. Times are seconds from the container
start (see `source.time_origin`), the same clock `read_audio` uses.

Damage rule: a decode error mid-stream after at least one frame was produced logs a warning
and ends the stream (the frames so far are valid); before any frame it raises `MediaError`.
A still image is a 1-frame video whatever `fps` says. Imports: av, numpy, xdub.types,
xdub.errors, xdub.media.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable, Iterator
from fractions import Fraction

import av
import numpy as np
from av.error import FFmpegError

from xdub.errors import MediaError
from xdub.media.audio import read_audio
from xdub.media.probe import StreamTiming, measure_timing, probe, rotation_ccw
from xdub.media.source import (
    InputContainer,
    PathLike,
    VideoStream,
    describe_error,
    first_video_stream,
    is_still_image,
    media_errors,
    open_input,
    time_origin,
    to_fraction,
)
from xdub.types import Video

logger = logging.getLogger(__name__)

# A frame within 1% of a frame interval after a grid point counts as "at" it, so a
# constant-rate stream resampled at its own rate reproduces every frame despite rounding.
GRID_TOLERANCE = 0.01


class _Decoded:
    """One decoded frame with its time; converted to RGB lazily, at most once."""

    __slots__ = ("frame", "time", "duration", "size", "_rgb")

    def __init__(self, frame: av.VideoFrame, time: float, duration: float) -> None:
        self.frame: av.VideoFrame | None = frame  # dropped once converted
        self.time, self.duration = time, duration
        self.size = (frame.width, frame.height)  # coded (w, h), before rotation
        self._rgb: np.ndarray | None = None

    def rgb(self, size: tuple[int, int], quarter_turns: int) -> np.ndarray:
        """Pixels as uint8 `[H, W, 3]` at coded `size` (w, h), rotated for display."""
        if self._rgb is None:
            assert self.frame is not None
            width, height = size
            rgb = self.frame.to_ndarray(  # range passed explicitly: PyAV would assume "unspecified"
                format="rgb24",
                width=width,
                height=height,
                src_color_range=self.frame.color_range,
            )
            if quarter_turns:
                rgb = np.rot90(rgb, k=quarter_turns)
            # Own the memory: detaches the result from FFmpeg's frame buffer.
            self._rgb = np.array(rgb, dtype=np.uint8, copy=True, order="C")
            self.frame = None  # let FFmpeg reuse the buffer
        return self._rgb


def _seek(container: InputContainer, stream: VideoStream, seconds: float, origin: float) -> bool:
    """Seek to the keyframe at or before `seconds`; False if the container cannot seek."""
    if seconds <= 0 or not stream.time_base:
        return False
    try:
        container.seek(int((seconds + origin) / stream.time_base), stream=stream, backward=True)
        return True
    except FFmpegError as err:
        logger.debug("seek failed (%s); decoding from the start", err)
        return False


def _decode_timed(
    container: InputContainer, stream: VideoStream, path: PathLike, start: float, fps: Fraction
) -> Iterator[_Decoded]:
    """Decoded frames with times in seconds (seeking near `start`), applying the damage rule."""
    origin, step = time_origin(container), 1.0 / float(fps)
    seeked = _seek(container, stream, start, origin)
    for item in _decode_raw(container, stream, path, origin, step):
        if seeked and item.time > start + GRID_TOLERANCE * step:
            break  # a bad index made the seek overshoot: decode again from the top
        seeked = False
        yield item
    else:
        return
    container.seek(0, stream=stream, backward=True)
    yield from _decode_raw(container, stream, path, origin, step)


def _decode_raw(
    container: InputContainer,
    stream: VideoStream,
    path: PathLike,
    origin: float,
    step: float,
    count: int | None = None,
) -> Iterator[_Decoded]:
    """Decode `stream` (at most `count` frames), ending cleanly on damage after >= 1 frame."""
    produced, last_time = 0, None
    try:
        for frame in container.decode(stream):
            base = frame.time_base
            if frame.pts is not None and base is not None:
                time = float(frame.pts * base) - origin
            else:  # no timestamps (some AVI): assume the nominal rate
                time = (last_time + step) if last_time is not None else 0.0
            duration = float(frame.duration * base) if frame.duration and base else step
            last_time = time
            produced += 1
            yield _Decoded(frame, time, duration)
            if count is not None and produced >= count:
                return
    except FFmpegError as err:
        if produced == 0:
            raise MediaError(f"cannot decode {path}: {describe_error(err)}") from None
        logger.warning(
            "%s: decode error after %d frames (%s); stream ended there",
            path,
            produced,
            describe_error(err),
        )


def _as_decoded(
    frames: Iterable[_Decoded],
    start: float,
    end: float | None,
    size: tuple[int, int],
    turns: int,
    step: float,
) -> Iterator[np.ndarray]:
    """Constant-rate passthrough: every frame with start <= t < end."""
    tol = GRID_TOLERANCE * step
    for item in frames:
        if start > 0 and item.time < start - tol:
            continue
        if end is not None and item.time >= end - tol:
            return
        yield item.rgb(size, turns)


def _sample_and_hold(
    frames: Iterable[_Decoded],
    start: float,
    end: float | None,
    fps: Fraction,
    size: tuple[int, int],
    turns: int,
) -> Iterator[np.ndarray]:
    """Resample to t_k = start + k / fps, each taking the latest frame with time <= t_k."""
    tol = GRID_TOLERANCE / float(fps)
    k, held = 0, None
    stream_end = None
    for item in frames:
        while (grid := start + float(k / fps)) < item.time - tol:
            if end is not None and grid >= end - tol:
                return
            yield (held or item).rgb(size, turns)
            k += 1
        held = item
        stream_end = item.time + item.duration
    if held is None or stream_end is None:
        return
    limit = stream_end if end is None else min(end, stream_end)
    while start + float(k / fps) < limit - tol:
        yield held.rgb(size, turns)
        k += 1


def _check_range(fps: float | None, start: float, end: float | None) -> None:
    if fps is not None and not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if end is not None and end <= start:
        raise ValueError(f"end ({end}) must be after start ({start})")


def iter_frames(
    path: str | os.PathLike,
    fps: float | None = None,
    start: float = 0.0,
    end: float | None = None,
) -> Iterator[np.ndarray]:
    """Stream display-rotated RGB frames `[H, W, 3]` uint8 (memory does not grow with length)."""
    _check_range(fps, start, end)
    timing = _timing(path)  # None for a still image
    with open_input(path) as container:
        with media_errors(path, "decode"):
            stream = first_video_stream(container, path)
            stream.thread_type = "AUTO"  # frame + slice threads: ~2x decode speed
        if timing is None:
            yield from _still_frames(container, stream, path, start)
            return
        grid = to_fraction(fps) if fps is not None else (timing.fps if timing.variable else None)
        produced = 0
        with media_errors(path, "decode"):
            frames = _decode_timed(container, stream, path, start, timing.fps)
            first = next(frames, None)
            if first is None:
                raise MediaError(f"no frames could be decoded from {path}")
            size = first.size
            turns = rotation_ccw(first.frame, stream) // 90
            chained = itertools.chain([first], frames)
            if grid is None:
                out = _as_decoded(chained, start, end, size, turns, 1 / float(timing.fps))
            else:
                out = _sample_and_hold(chained, start, end, grid, size, turns)
            for rgb in out:
                produced += 1
                yield rgb
        if produced == 0:
            until = f"{end} s" if end is not None else "its end"
            raise MediaError(f"no frames of {path} between {start} s and {until}")


def _timing(path: str | os.PathLike) -> StreamTiming | None:
    """Timing of the video stream from a separate demux-only pass; None for a still image."""
    with open_input(path) as container, media_errors(path, "read"):
        stream = first_video_stream(container, path)
        return None if is_still_image(container) else measure_timing(container, stream)


def _still_frames(
    container: InputContainer, stream: VideoStream, path: PathLike, start: float
) -> Iterator[np.ndarray]:
    """The single picture of an image file (rotation from EXIF-derived side data honoured)."""
    if start > 0:
        raise MediaError(f"{path} is a still image; it has no time {start} s")
    with media_errors(path, "decode"):
        item = next(_decode_raw(container, stream, path, 0.0, 1.0, count=1), None)
        if item is None:
            raise MediaError(f"no frames could be decoded from {path}")
        turns = rotation_ccw(item.frame, stream) // 90
        rgb = item.rgb(item.size, turns)
    yield rgb


def read_video(
    path: str | os.PathLike,
    fps: float | None = None,
    start: float = 0.0,
    end: float | None = None,
    with_audio: bool = True,
) -> Video:
    """Load a whole clip into memory (`frames: [T, H, W, 3]`); for short clips and tests.

    `fps=None` keeps the file's rate (its average rate when VFR). The audio track, when there
    is one and `with_audio`, is read as 16 kHz mono over the same time span as the frames.
    """
    info = probe(path)
    frames = np.stack(list(iter_frames(path, fps=fps, start=start, end=end)))
    rate = float(fps) if fps is not None else info.fps
    audio = None
    if with_audio and info.has_audio:
        clip_end = end if end is not None else start + len(frames) / rate
        audio = read_audio(path, start=start, end=clip_end)
    return Video(frames=frames, fps=rate, audio=audio)
