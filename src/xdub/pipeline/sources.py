"""Where the pipeline's frames come from and go to: in memory or streamed from/to files.

`VideoSource.frames(indices)` yields the source frames `[H, W, 3]` uint8 for any index sequence
(ascending runs, repeats, the descending runs of ping-pong, jumps of a loop) while holding at
most `REVERSE_BLOCK` frames, so memory does not grow with the video's length. `FrameSink`
receives the output frames in order. `FileSource`/`FileSink` wrap `xdub.media` (the only media
I/O the pipeline does); `MemorySource`/`MemorySink` serve the in-memory `Video` API and tests.
Imports: numpy, xdub.media, xdub.types, xdub.errors.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from xdub.errors import OutputError
from xdub.types import Audio, AudioTrack, Video, VideoInfo, load_track

log = logging.getLogger(__name__)

REVERSE_BLOCK = 32  # frames decoded at once to serve a backwards (ping-pong) run
SKIP_AHEAD = 250  # forward jumps up to this many frames decode through instead of seeking


class VideoSource(Protocol):
    """Random-ish access to the frames of one video."""

    fps: float
    num_frames: int  # exact for memory sources, the probe's estimate for files
    size: tuple[int, int]  # (width, height)

    def frames(self, indices: Iterable[int]) -> Iterator[np.ndarray]:
        """Frames `[H, W, 3]` uint8 for `indices`, in that order."""
        ...

    def scan(self, first: int, stop: int | None) -> Iterator[np.ndarray]:
        """Frames first .. stop - 1 in order, ending early at the real end (None: to the end)."""
        ...

    def audio(self, sample_rate: int) -> AudioTrack | None:
        """The video's own audio track (mono, at `sample_rate`), or None if it has none."""
        ...


class FrameSink(Protocol):
    """Consumer of the output frames, in order."""

    def open(self, fps: float, size: tuple[int, int], audio: AudioTrack | None) -> None: ...

    def write(self, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


# ---------------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------------


class MemorySource:
    """A `Video` held in memory (short clips, tests)."""

    def __init__(self, video: Video) -> None:
        self.video = video
        self.fps = float(video.fps)
        self.num_frames = video.num_frames
        self.size = video.size

    def frames(self, indices: Iterable[int]) -> Iterator[np.ndarray]:
        """Frames for `indices` (clamped to the last frame)."""
        last = self.num_frames - 1
        for i in indices:
            yield self.video.frames[min(int(i), last)]

    def scan(self, first: int, stop: int | None) -> Iterator[np.ndarray]:
        """Frames first .. stop - 1 (to the end when stop is None)."""
        yield from self.video.frames[first:stop]

    def audio(self, sample_rate: int) -> Audio | None:
        """The clip's own audio, resampled to `sample_rate`."""
        from xdub.audio.resample import resample

        return None if self.video.audio is None else resample(self.video.audio, sample_rate)


class MemorySink:
    """Collects the output into a `Video`."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.fps = 0.0
        self.audio_track: AudioTrack | None = None

    def open(self, fps: float, size: tuple[int, int], audio: AudioTrack | None) -> None:
        self.fps, self.audio_track, self.frames = fps, audio, []

    def write(self, frame: np.ndarray) -> None:
        self.frames.append(frame)

    def close(self) -> None:
        """Nothing to flush."""

    def abort(self) -> None:
        self.frames = []

    def video(self) -> Video:
        """The collected output `Video`."""
        audio = None if self.audio_track is None else load_track(self.audio_track)
        return Video(frames=np.stack(self.frames), fps=self.fps, audio=audio)


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


class FileSource:
    """A video (or still image) file, decoded on demand on its own frame grid."""

    def __init__(self, path: str | os.PathLike, info: VideoInfo | None = None) -> None:
        from xdub.media import probe

        self.path = Path(path)
        self.info = info or probe(self.path)
        self.fps = float(self.info.fps)
        self.num_frames = int(self.info.num_frames)
        self.size = (int(self.info.width), int(self.info.height))
        self.still = bool(self.info.extra.get("still_image", False))

    def _decode(self, first: int) -> Iterator[np.ndarray]:
        """Frames first, first + 1, ... on the grid t_k = k / fps (seeks when first > 0)."""
        from xdub.media import iter_frames

        if self.still:
            return iter_frames(self.path)
        # An explicit fps puts every seek on the same sample-and-hold grid (exact for CFR).
        return iter_frames(self.path, fps=self.fps, start=first / self.fps)

    def scan(self, first: int, stop: int | None) -> Iterator[np.ndarray]:
        """Frames first .. stop - 1 decoded in order (to the real end when stop is None)."""
        frames = self._decode(first)
        yield from frames if stop is None else itertools.islice(frames, max(stop - first, 0))

    def frames(self, indices: Iterable[int]) -> Iterator[np.ndarray]:
        """Frames for `indices`; past the real end the last frame is repeated."""
        wanted = [int(i) for i in indices]
        cursor: Iterator[np.ndarray] | None = None
        position = 0  # index of the frame `cursor` yields next
        held: tuple[int, np.ndarray] | None = None  # last frame served
        block: dict[int, np.ndarray] = {}  # backwards-run cache
        for n, index in enumerate(wanted):
            if self.still:
                index = 0
            if held is not None and held[0] == index:
                yield held[1]
                continue
            if index in block:
                held = (index, block[index])
                yield held[1]
                continue
            if _descending(wanted, n) and not (cursor is not None and index == position):
                block = self._read_block(index)
                held = (index, block[index])
                yield held[1]
                continue
            block = {}
            if cursor is None or index < position or index - position > SKIP_AHEAD:
                cursor, position = self._decode(index), index
            frame = None
            while position <= index:
                frame = next(cursor, None)
                if frame is None:
                    break
                position += 1
            if frame is None:  # past the end (estimated count too high): hold the last frame
                if held is None:
                    held = (index, self._last_frame())
                log.debug("%s: frame %d past the end, repeating the last frame", self.path, index)
                yield held[1]
                position = index + 1
                continue
            held = (index, frame)
            yield frame

    def _read_block(self, last: int) -> dict[int, np.ndarray]:
        """Frames (last - REVERSE_BLOCK, last] decoded forwards, for a backwards run."""
        first = max(0, last - REVERSE_BLOCK + 1)
        block: dict[int, np.ndarray] = {}
        frame = None
        for i, frame in zip(range(first, last + 1), self._decode(first)):
            block[i] = frame
        for i in range(first, last + 1):  # past the real end: hold the last decoded frame
            if i not in block:
                block[i] = frame if frame is not None else self._last_frame()
        return block

    def _last_frame(self) -> np.ndarray:
        """The final decodable frame (slow path, only when the estimate overshoots)."""
        frame = None
        for frame in self._decode(0):
            pass
        assert frame is not None, "iter_frames yields at least one frame or raises"
        return frame

    def audio(self, sample_rate: int) -> AudioTrack | None:
        """The file's audio track at `sample_rate`, decoded as it is read (None without one)."""
        from xdub.errors import MediaError
        from xdub.media import FileAudio

        if not self.info.has_audio:
            return None
        try:
            return FileAudio(self.path, sample_rate=sample_rate)
        except MediaError as err:  # an empty/damaged original track: treat it as silence
            log.warning("original audio of %s unusable (%s); using silence", self.path, err)
            return None


def _descending(indices: Sequence[int], n: int) -> bool:
    """True when indices[n] starts a backwards run (the next index is one lower)."""
    return n + 1 < len(indices) and indices[n + 1] == indices[n] - 1


class FileSink:
    """Streams the output to a video file (H.264 + AAC), atomically (`xdub.media.VideoWriter`)."""

    def __init__(self, path: str | os.PathLike, inputs: Sequence[str | os.PathLike] = (),
                 crf: int = 18, preset: str = "medium") -> None:
        from xdub.media import check_output_path

        self.path = check_output_path(path, inputs)  # fail before any heavy work
        self.inputs, self.crf, self.preset = tuple(inputs), crf, preset
        self._writer = None

    def open(self, fps: float, size: tuple[int, int], audio: AudioTrack | None) -> None:
        from xdub.media import VideoWriter

        self._writer = VideoWriter(self.path, fps, size, audio=audio, crf=self.crf,
                                   preset=self.preset, inputs=self.inputs)

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:
            raise OutputError(f"{self.path}: sink written before open()")
        self._writer.write(frame)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()
