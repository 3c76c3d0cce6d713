"""Streaming video encode: RGB frames (+ optional mono audio) -> H.264 + AAC file.

Sizes: the file always has the frames' exact size. Even sizes are coded yuv420p (what every
player decodes). H.264 4:2:0 cannot code an odd width or height, not even through SPS
cropping (its crop unit is 2 luma pixels), so an odd size is coded yuv444p (High 4:4:4
Predictive, crop unit 1): same picture, same size, no padding (#15); `VideoWriter.pix_fmt`
says which. Hardware decoders and some players (Firefox, QuickTime) cannot play 4:4:4.
Colour: frames are converted with BT.709 limited range and the stream is tagged so, which is
what players assume for HD and what `iter_frames` reads back. Audio: resampled to 48 kHz mono
AAC 128 kb/s and encoded alongside the frames so the muxer interleaves without buffering.
Files are written to a temp file in the destination folder and renamed on success.
Imports: av, numpy, xdub.types, xdub.errors, xdub.media.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import numpy as np
from av.container import OutputContainer
from av.error import FFmpegError

from xdub.atomic import TempTarget
from xdub.errors import OutputError
from xdub.media.audio import AudioEncoder
from xdub.media.output import check_output_path
from xdub.media.source import describe_error, to_fraction
from xdub.types import AudioTrack

logger = logging.getLogger(__name__)

AUDIO_RATE = 48_000  # AAC's home rate: every player/browser handles it
AUDIO_BITRATE = 128_000  # transparent for mono speech
BT709 = 1  # AVCOL_SPC/PRI/TRC_BT709
LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG (16-235), the broadcast default players expect


def pixel_format(size: tuple[int, int]) -> str:
    """The H.264 pixel format that codes frames of `size` (w, h) exactly (module docstring)."""
    return "yuv420p" if size[0] % 2 == 0 and size[1] % 2 == 0 else "yuv444p"


class VideoWriter:
    """Write frames one at a time to an H.264/AAC .mp4/.mov/.mkv, atomically.

    Use as a context manager: on normal exit the file appears at `path`; on an exception
    nothing is left behind and an existing file at `path` is untouched.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        size: tuple[int, int],
        audio: AudioTrack | None = None,
        crf: int = 18,
        preset: str = "medium",
        inputs: Iterable[str | os.PathLike] = (),
    ) -> None:
        self.path = check_output_path(path, inputs)
        width, height = int(size[0]), int(size[1])
        if width < 1 or height < 1:
            raise ValueError(f"frame size must be positive, got {size}")
        self.size = (width, height)  # (w, h) of the frames passed to write()
        self.encoded_size = self.size  # kept for callers: the file's size is the frames' size
        self.pix_fmt = pixel_format(self.size)
        self.rate: Fraction = to_fraction(fps)
        self.num_frames = 0
        self._target = TempTarget(self.path)
        self._audio: AudioEncoder | None = None
        self._closed = False
        try:
            self._container = self._open(crf, preset, audio)
        except (FFmpegError, OSError) as err:
            self._target.discard()
            raise OutputError(f"cannot write {self.path}: {describe_error(err)}") from None

    def _open(self, crf: int, preset: str, audio: AudioTrack | None) -> OutputContainer:
        """Create the temp container with its video (and audio) stream."""
        fast_start = self.path.suffix.lower() in (".mp4", ".mov")
        container = av.open(
            str(self._target.tmp),
            mode="w",
            container_options={"movflags": "+faststart"} if fast_start else {},
        )
        try:
            video = container.add_stream(
                "libx264", rate=self.rate, options={"crf": str(crf), "preset": preset}
            )
            video.width, video.height = self.encoded_size
            video.pix_fmt = self.pix_fmt
            video.codec_context.time_base = 1 / self.rate
            ctx = video.codec_context
            ctx.colorspace = ctx.color_primaries = ctx.color_trc = BT709
            ctx.color_range = LIMITED_RANGE
            if audio is not None and audio.num_samples:
                sound = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
                sound.bit_rate = AUDIO_BITRATE
                self._audio = AudioEncoder(sound, audio)
        except BaseException:
            container.close()
            raise
        self._video = video
        return container

    def write(self, frame: np.ndarray) -> None:
        """Append one frame: uint8 RGB `[H, W, 3]` matching `size`."""
        if self._closed:
            raise RuntimeError(f"VideoWriter for {self.path} is already closed")
        width, height = self.size
        if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
            raise ValueError(
                f"frame must be uint8 [{height}, {width}, 3], got {frame.dtype} {frame.shape}"
            )
        rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        yuv = rgb.reformat(format=self.pix_fmt, dst_colorspace=BT709,
                           dst_color_range=LIMITED_RANGE)
        yuv.pts = self.num_frames
        yuv.time_base = 1 / self.rate
        try:
            self._container.mux(self._video.encode(yuv))
            self.num_frames += 1
            if self._audio is not None:  # audio up to the end of this frame, for interleaving
                self._container.mux(self._audio.encode_until(float(self.num_frames / self.rate)))
        except (FFmpegError, OSError) as err:
            self.abort()
            raise OutputError(f"cannot write {self.path}: {describe_error(err)}") from None

    def close(self) -> Path:
        """Flush encoders, finish the file and move it into place; return its path."""
        if self._closed:
            return self.path
        if self.num_frames == 0:
            self.abort()
            raise OutputError(f"no frames were written to {self.path}")
        try:
            self._container.mux(self._video.encode(None))
            if self._audio is not None:
                self._container.mux(self._audio.encode_until(None))
            self._container.close()
        except (FFmpegError, OSError) as err:
            self.abort()
            raise OutputError(f"cannot write {self.path}: {describe_error(err)}") from None
        self._closed = True
        return self._target.commit()

    def abort(self) -> None:
        """Stop writing and delete the temp file; the destination is left as it was."""
        if not self._closed:
            self._closed = True
            try:
                self._container.close()
            except (FFmpegError, OSError) as err:  # already failing; just clean up
                logger.debug("closing aborted %s: %s", self._target.tmp, err)
        self._target.discard()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: float,
    audio: AudioTrack | None = None,
    **kwargs: Any,
) -> Path:
    """Encode an iterable of uint8 RGB frames `[H, W, 3]` (+ audio) to `path`; return the path.

    `kwargs` go to `VideoWriter` (crf, preset, inputs). Frames are consumed lazily.
    """
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        check_output_path(path, kwargs.get("inputs", ()))
        raise OutputError(f"no frames to write to {path}")
    size = (int(first.shape[1]), int(first.shape[0]))
    with VideoWriter(path, fps, size, audio=audio, **kwargs) as writer:
        writer.write(first)
        for frame in iterator:
            writer.write(frame)
    return writer.path
