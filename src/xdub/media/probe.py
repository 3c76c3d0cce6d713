"""Probe a video file without decoding it all: display size, frame rate, duration, rotation, VFR.

Rotation comes from the display-matrix side data FFmpeg attaches to decoded frames (the
first frame is decoded for it), falling back to a legacy `rotate` stream tag. Variable frame
rate is detected by demuxing (not decoding) the first `SCAN_PACKETS` packets and comparing
their timestamp steps. Imports: av, numpy, xdub.types, xdub.errors, xdub.media.source.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from av.error import FFmpegError

from xdub.errors import MediaError
from xdub.media.source import (
    InputContainer,
    VideoStream,
    first_video_stream,
    is_still_image,
    media_errors,
    open_input,
    time_origin,
)
from xdub.types import VideoInfo

logger = logging.getLogger(__name__)

SCAN_PACKETS = 1000  # packets demuxed to judge VFR; ~33 s at 30 fps, milliseconds to read
DEFAULT_FPS = Fraction(25)  # used when a file states no rate at all (stills, some raw streams)
VFR_REL_TOL = 0.05  # a timestamp step >5% off the median step means variable frame rate
REORDER_MARGIN = 16  # > any B-frame reorder depth (x264 uses <= 16 references)
TRUNCATION_STEPS = 2  # irregular timestamp steps only among the last 2: a cut-off file, not VFR


@dataclass(frozen=True)
class StreamTiming:
    """Timing facts of a video stream, exact where the container allows."""

    fps: Fraction  # average frame rate
    variable: bool  # timestamps are not on a constant grid
    duration: float  # seconds, 0 when unknown
    num_frames: int  # frames stated by the container, or counted/estimated


def rotation_ccw(frame: av.VideoFrame | None, stream: VideoStream) -> int:
    """Degrees (0/90/180/270) to rotate decoded pixels counter-clockwise for display."""
    degrees = 0.0
    if frame is not None:
        try:
            degrees = float(frame.rotation)  # display matrix, counter-clockwise
        except (FFmpegError, TypeError, ValueError):
            degrees = 0.0
    if degrees == 0.0:
        tags = {key.lower(): value for key, value in stream.metadata.items()}
        tag = tags.get("rotate")  # legacy tag (mkv stores it as ROTATE): clockwise degrees
        try:
            degrees = -float(tag) if tag is not None else 0.0
        except ValueError:
            degrees = 0.0
    return int(round(degrees / 90.0)) % 4 * 90


def _scan_packet_times(
    container: InputContainer, stream: VideoStream
) -> tuple[list[int], list[int], bool]:
    """Demux up to SCAN_PACKETS packets: (pts list, duration list, reached_end)."""
    pts: list[int] = []
    durations: list[int] = []
    try:
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            pts.append(int(packet.pts))
            durations.append(int(packet.duration or 0))
            if len(pts) >= SCAN_PACKETS:
                return pts, durations, False
    except FFmpegError as err:  # a damaged tail still leaves the packets read so far
        logger.debug("packet scan stopped early: %s", err)
    return pts, durations, True


def _stated_fps(stream: VideoStream) -> Fraction | None:
    """The container's average rate, or another stated rate, if plausible."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and 0 < float(rate) < 1000:
            return Fraction(rate)
    return None


def measure_timing(container: InputContainer, stream: VideoStream) -> StreamTiming:
    """Average fps, VFR flag, duration and frame count of `stream` (demuxes; does not rewind)."""
    time_base = stream.time_base or Fraction(1, 1000)
    pts, durations, complete = _scan_packet_times(container, stream)
    stated = _stated_fps(stream)
    variable, measured = False, None
    ordered = np.sort(np.asarray(pts, dtype=np.int64))
    if not complete:  # B-frames decoded after the cut would leave false gaps at the tail
        ordered = ordered[:-REORDER_MARGIN]
    if len(ordered) >= 3:
        steps = np.diff(ordered)
        steps = steps[steps > 0]
        if steps.size:
            median = float(np.median(steps))
            tol = max(1.5, VFR_REL_TOL * median)  # 1.5 ticks absorbs 33/34 ms rounding
            irregular = np.flatnonzero(np.abs(steps - median) > tol)
            # A file cut mid-stream (B-frames) leaves one gap in its LAST steps: that is a
            # truncation, not a variable rate, and must not replace the declared rate (#15).
            cut_tail = steps.size > TRUNCATION_STEPS + 2 and bool(irregular.size) and bool(
                irregular.min() >= steps.size - TRUNCATION_STEPS)
            variable = bool(irregular.size) and not cut_tail
            span = float((ordered[-1] - ordered[0]) * time_base)
            measured = (
                Fraction((len(ordered) - 1) / span).limit_denominator(1001000) if span else None
            )
    fps = stated or measured or DEFAULT_FPS
    if (
        measured is not None
        and abs(float(fps) / float(measured) - 1) > 0.01
        and (variable or stated is None)
    ):
        fps = measured  # a VFR file's stated rate is often the max rate, not the average
    duration = _duration(container, stream, pts, durations, complete, fps)
    if variable:  # what the sample-and-hold grid will produce
        num_frames = int(round(duration * float(fps)))
    elif stream.frames:
        num_frames = int(stream.frames)
    else:
        num_frames = len(pts) if complete and pts else int(round(duration * float(fps)))
    return StreamTiming(fps=fps, variable=variable, duration=duration, num_frames=num_frames)


def _duration(
    container: InputContainer,
    stream: VideoStream,
    pts: list[int],
    durations: list[int],
    complete: bool,
    fps: Fraction,
) -> float:
    """Stream duration in seconds from the best available source."""
    time_base = stream.time_base or Fraction(1, 1000)
    if stream.duration:
        return float(stream.duration * time_base)
    if complete and pts:
        last = int(np.argmax(pts))
        step = durations[last] * time_base if durations[last] else 1 / fps
        return float((max(pts) - min(pts)) * time_base + step)
    if container.duration:
        return max(float(container.duration) / 1e6 - time_origin(container), 0.0)
    return 0.0


def _first_frame(container: InputContainer, stream: VideoStream) -> av.VideoFrame | None:
    """Decode the first frame (for rotation and true size); None if nothing decodes."""
    with contextlib.suppress(FFmpegError):  # unseekable: decode from where we are
        container.seek(0, stream=stream)
    try:
        for frame in container.decode(stream):
            return frame
    except FFmpegError as err:
        logger.debug("first frame of %s did not decode: %s", container.name, err)
    return None


def probe(path: str | os.PathLike) -> VideoInfo:
    """Describe a video (or still image) file: display size, fps, duration, frames, rotation."""
    with open_input(path) as container, media_errors(path, "probe"):
        stream = first_video_stream(container, path)
        still = is_still_image(container)
        timing = (
            StreamTiming(DEFAULT_FPS, False, 1 / float(DEFAULT_FPS), 1)
            if still
            else measure_timing(container, stream)
        )
        frame = _first_frame(container, stream)
        if frame is None:
            raise MediaError(f"no frames could be decoded from {path}")
        rotation = rotation_ccw(frame, stream)
        width, height = frame.width, frame.height
        if rotation in (90, 270):
            width, height = height, width
        return VideoInfo(
            path=str(path),
            width=width,
            height=height,
            fps=float(timing.fps),
            num_frames=max(timing.num_frames, 1),
            duration=timing.duration,
            rotation=(360 - rotation) % 360,  # VideoInfo counts clockwise
            variable_frame_rate=timing.variable,
            has_audio=bool(container.streams.audio),
            codec=stream.codec_context.name,
            extra={
                "container": container.format.name,
                "fps_fraction": str(timing.fps),
                "coded_size": (frame.width, frame.height),
                "pix_fmt": frame.format.name,
                "still_image": still,
            },
        )
