"""Pipeline steps 5-8 as ONE streaming pass: crop -> generate -> cross-fade -> paste back -> write.

Output frames arrive in order from the source. A frame outside every chunk (not dubbed, or no
face) is final at once; a dubbed frame becomes final when its chunk has run (or, in a chunk
overlap, when the next chunk has run and the two outputs are cross-faded). Final frames are
written in order, so the buffer never holds more than about `chunk_frames + overlap` frames:
memory does not grow with the video's length. Crops are cut exactly as training cuts them
(`crop_frame`); generation, motion frames, padding and the cross-fade are the shared
`ChunkRunner`'s. Imports: numpy, torch, xdub.{face, conditioning, generation, config}.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from xdub.conditioning import crop_frame, crop_frames
from xdub.config.face import FaceConfig
from xdub.face.blend import changed_pixels, paste_back
from xdub.face.mask import lower_face_mask, mouth_mask
from xdub.generation import Chunk, ChunkRunner, CropGenerator
from xdub.pipeline.faces import FaceTable
from xdub.pipeline.progress import Progress, StageTimer
from xdub.pipeline.sources import FrameSink
from xdub.pipeline.timeline import Timeline
from xdub.types import AudioTrack

PASTE_MASKS = {"lower_face": lower_face_mask, "mouth": mouth_mask}  # blend region -> crop mask


class FrameObserver(Protocol):
    """Sees every output frame (debug videos); crops/geometry are None where nothing was dubbed."""

    def start(self, fps: float, size: tuple[int, int], audio: AudioTrack | None) -> None:
        """Called once before the first frame (output fps, (w, h), output audio)."""
        ...

    def observe(self, index: int, source: np.ndarray, output: np.ndarray,
                crop_in: np.ndarray | None, crop_out: np.ndarray | None,
                affine: np.ndarray | None, crop_landmarks: np.ndarray | None) -> None:
        """Output frame `index`: source/output `[H, W, 3]`, crops `[S, S, 3]`, frame->crop
        `affine [2, 3]` and `crop_landmarks [68, 2]` of the dubbed face (None: not dubbed)."""
        ...

    def close(self) -> None:
        """The run succeeded."""
        ...

    def abort(self) -> None:
        """The run failed: leave nothing half-written."""
        ...


@dataclass
class StreamContext:
    """Everything the streaming pass reads."""

    generator: CropGenerator
    timeline: Timeline
    table: FaceTable
    chunks: list[Chunk]
    prepared_audio: Any
    refs: dict[int, np.ndarray]  # track index -> reference crops [R, S, S, 3]
    face: FaceConfig
    rng: torch.Generator
    sink: FrameSink
    timer: StageTimer
    progress: Progress
    observer: FrameObserver | None = None


class ChunkStream:
    """Runs the chunks over the incoming frames and writes finished frames to the sink."""

    def __init__(self, ctx: StreamContext) -> None:
        self.ctx = ctx
        self.size = ctx.table.crop_size
        self.buffer: deque[np.ndarray] = deque()  # source frames emit_pos .. current
        self.emit_pos = 0
        self.finals: dict[int, np.ndarray] = {}
        self.runner = ChunkRunner(ctx.generator, ctx.rng)
        self.crops_in: dict[int, np.ndarray] = {}  # frame -> source crop (debug only)
        self.in_chunk = np.zeros(ctx.timeline.num_frames, bool)
        for chunk in ctx.chunks:
            self.in_chunk[chunk.start:chunk.stop] = True

    def run(self, frames: Iterable[np.ndarray]) -> int:
        """Consume the source frames of every output frame; returns the frames written."""
        ctx = self.ctx
        todo = iter(ctx.chunks)
        chunk = next(todo, None)
        for k, frame in enumerate(frames):
            self.buffer.append(frame)
            if not self.in_chunk[k]:
                self.finals[k] = frame
            while chunk is not None and chunk.stop - 1 <= k:
                self._run_chunk(chunk)
                chunk = next(todo, None)
            self._emit()
        assert not self.finals and not self.runner.pending, "frames left unwritten"
        return self.emit_pos

    def _emit(self) -> None:
        """Write every final frame at the head of the buffer."""
        ctx = self.ctx
        while self.emit_pos in self.finals:
            k = self.emit_pos
            out = self.finals.pop(k)
            source = self.buffer.popleft()
            with ctx.timer.measure("write"):
                ctx.sink.write(out)
            if ctx.observer is not None:
                self._observe(k, source, out)
            ctx.progress.advance(1)
            self.emit_pos += 1

    def _observe(self, k: int, source: np.ndarray, out: np.ndarray) -> None:
        assert self.ctx.observer is not None
        row = self.ctx.table.row(self.ctx.timeline.source_index[k])
        table = self.ctx.table
        crop_in = self.crops_in.pop(k, None)
        if crop_in is None or row is None:
            self.ctx.observer.observe(k, source, out, None, None, None, None)
            return
        crop_out = crop_frame(out, table.affines[row], self.size, self.ctx.face.align.interpolation)
        self.ctx.observer.observe(k, source, out, crop_in, crop_out, table.affines[row],
                                  table.crop_landmarks[row])

    def _chunk_frames(self, chunk: Chunk) -> tuple[list[np.ndarray], list[int]]:
        """Source frames and face-table rows of a chunk's frames (all in the buffer)."""
        frames, rows = [], []
        for k in range(chunk.start, chunk.stop):
            frames.append(self.buffer[k - self.emit_pos])
            row = self.ctx.table.row(self.ctx.timeline.source_index[k])
            assert row is not None, f"frame {k} is in a chunk but has no face"
            rows.append(row)
        return frames, rows

    def _run_chunk(self, chunk: Chunk) -> None:
        """Generate one chunk (shared runner: motion, padding, cross-fade), paste back finals."""
        ctx, table, gen = self.ctx, self.ctx.table, self.ctx.generator
        frames, rows = self._chunk_frames(chunk)
        with ctx.timer.measure("crop"):
            crops = crop_frames(frames, table.affines[rows], self.size,
                                ctx.face.align.interpolation)
        if ctx.observer is not None:
            self.crops_in.update({chunk.start + j: c for j, c in enumerate(crops)})
        with ctx.timer.measure("audio"):
            first = chunk.start - ctx.timeline.audio_start_frame
            windows = gen.audio_windows(ctx.prepared_audio, first,
                                        self.runner.padded_length(chunk.length), ctx.timeline.fps)
        refs = ctx.refs.get(int(table.track_ids[rows[0]])) if gen.ref_frames else None
        with ctx.timer.measure("generate"):
            finals = self.runner.run(chunk, crops, windows, refs)
        with ctx.timer.measure("paste"):
            for k, crop in finals.items():
                j = k - chunk.start
                self.finals[k] = self._paste(frames[j], crop, rows[j], crops[j])

    def _paste(self, frame: np.ndarray, crop: np.ndarray, row: int,
               source: np.ndarray) -> np.ndarray:
        """Paste a generated crop into its full-resolution frame (region mask, colour match);
        pixels the generator returned as they were in `source` keep the frame's own."""
        face, table = self.ctx.face, self.ctx.table
        region_mask = PASTE_MASKS.get(face.blend.region)
        mask = None
        if region_mask is not None:
            mask = region_mask(table.crop_landmarks[row], (self.size, self.size), face.mask)
        return paste_back(frame, crop, table.affines[row], face.blend, mask,
                          changed_pixels(crop, source))
