"""`DubPipeline`: a video and new audio in, the same video with lips following the audio out.

    pipe = load_pipeline()          # xdub.pipeline.loading: embedded default / --checkpoint
    result = pipe(video, audio)                             # in memory: result.video
    pipe(FileSource("in.mp4"), audio, output=FileSink("out.mp4", inputs=["in.mp4"]))  # streamed

`__call__` is the whole algorithm as numbered steps; each delegates to a helper. Memory does
not grow with the video's length: faces are tracked in one streaming pass (only geometry is
kept), then frames are decoded, dubbed chunk by chunk, pasted back and encoded in a second
pass. Frames where the chosen face is absent are copied unchanged and counted.
Crops are cut with `xdub.conditioning.crop_frames`, the function training crops go through.
Imports: numpy, torch, xdub.{face, conditioning, generation, config, errors, types},
xdub.pipeline (never its loader: `loading` imports this module).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from xdub.conditioning import crop_frames
from xdub.config.face import FaceConfig
from xdub.config.infer import DubberConfig, InferConfig, SamplingConfig
from xdub.errors import ConfigError, NoFaceError
from xdub.face.detect import FaceDetector
from xdub.face.track import FaceTrack
from xdub.generation import CropGenerator
from xdub.generation.chunking import Chunk, find_segments, plan_chunks
from xdub.models.landmark_net import LandmarkNet
from xdub.pipeline.faces import (
    FaceTable,
    build_face_table,
    choose_tracks,
    empty_face_table,
    track_span,
)
from xdub.pipeline.finder import FaceFinder
from xdub.pipeline.progress import DubSummary, NullProgress, Progress, StageTimer
from xdub.pipeline.sources import FrameSink, MemorySink, MemorySource, VideoSource
from xdub.pipeline.stream import ChunkStream, FrameObserver, StreamContext
from xdub.pipeline.timeline import Timeline, describe_length, output_audio, plan_timeline
from xdub.types import AudioTrack, Video

log = logging.getLogger(__name__)


@dataclass
class DubResult:
    """Outcome of a run: the video (None when streamed to a sink), the summary and the plan.

    `output`, `sync` and `warnings` are filled by the Python API (`xdub.api`): the file written,
    the lip-sync scores of the dubbed frames, and what the user should know about the run.
    """

    video: Video | None
    summary: DubSummary
    timeline: Timeline
    faces: FaceTable
    chunks: list[Chunk]  # what was generated together (seam diagnostics)
    output: Path | None = None
    sync: dict[str, float] | None = None  # {lse_c, lse_d, lse_offset} of the dubbed frames
    warnings: list[str] = field(default_factory=list)


class DubPipeline:
    """Face tracking + alignment + a `CropGenerator` + paste-back, over any length of video."""

    def __init__(self, generator: CropGenerator, dubber: DubberConfig,
                 detector: FaceDetector | None = None,
                 landmark_net: LandmarkNet | None = None) -> None:
        if generator.crop_size != dubber.crop_size:
            raise ConfigError(f"generator crop {generator.crop_size} != checkpoint crop "
                              f"{dubber.crop_size}")
        self.generator, self.dubber = generator, dubber
        # How this checkpoint finds faces (`xdub faces` and the web app use the same object).
        self.finder = FaceFinder(landmark_net, dubber.landmarks,
                                 None if detector is None else (dubber.face.detect.backend,
                                                                detector))

    @property
    def landmark_net(self) -> LandmarkNet | None:
        """The folder's landmarks/ refiner, when enabled."""
        return self.finder.landmark_net

    def __call__(
        self,
        video: Video | VideoSource,
        audio: AudioTrack,
        cfg: InferConfig | None = None,
        *,
        output: FrameSink | None = None,
        progress: Progress | None = None,
        observer: FrameObserver | None = None,
    ) -> DubResult:
        """Dub `video` with `audio` (any rate, mono; an `Audio` or a `FileAudio` read as
        needed); frames go to `output` or into memory."""
        cfg = cfg or InferConfig()
        source = MemorySource(video) if isinstance(video, Video) else video
        sink, progress, timer = output or MemorySink(), progress or NullProgress(), StageTimer()
        generator = self.generator.configured(cfg.sampling)
        # 1. Plan the timeline on the video's own frame grid (length mode, extension, range).
        timeline = plan_timeline(source.num_frames, source.fps, audio.duration, cfg.timeline)
        # 2. Track faces in one streaming pass over the source frames the dub needs.
        tracks, first, scanned, timeline = self._track(source, timeline, audio, cfg, progress,
                                                       timer)
        # 3. Choose the face(s) to dub and align a smoothed crop transform per frame.
        table = self._align(tracks, first, scanned, source.fps, cfg, timer)
        # 4. Audio features over the whole new track (cut per chunk at the frames' own times).
        with timer.measure("audio"):
            prepared = generator.prepare_audio(audio)
        # 5. Segments (dubbed frames with the face, no visual jump) cut into overlapping chunks.
        chunks = self._plan_chunks(timeline, table, cfg.sampling, generator)
        # 6. Identity reference crops, when the model takes them.
        refs = self._reference_crops(source, table, generator, cfg, timer)
        # 7. One streaming pass: generate + decode each chunk, cross-fade, paste back, write.
        ctx = StreamContext(generator, timeline, table, chunks, prepared, refs, self._face(cfg),
                            torch.Generator().manual_seed(cfg.sampling.seed), sink, timer,
                            progress, observer)
        track_audio = source.audio(audio.sample_rate) if timeline.range_mode else None
        written = self._stream(ctx, source, output_audio(timeline, audio, track_audio))
        # 8. Summary of what was done.
        summary = self._summarize(generator, timeline, table, chunks, written, timer)
        summary.size = source.size
        summary.length_decision = describe_length(timeline, audio.duration, cfg.timeline)
        video_out = sink.video() if isinstance(sink, MemorySink) else None
        return DubResult(video_out, summary, timeline, table, chunks)

    # ------------------------------------------------------------------------------- steps
    def _face(self, cfg: InferConfig) -> FaceConfig:
        """The checkpoint's face settings with the run's detector choice."""
        face = self.dubber.face
        if cfg.detector is not None:
            face = replace(face, detect=replace(face.detect, backend=cfg.detector))
        return face

    def _track(self, source: VideoSource, timeline: Timeline, audio: AudioTrack, cfg: InferConfig,
               progress: Progress, timer: StageTimer,
               ) -> tuple[list[FaceTrack], int, int, Timeline]:
        """Tracks over the source frames dubbed frames show; re-plans if the count was off."""
        span = timeline.source_span()
        if span is None:
            return [], 0, 0, timeline
        first, stop = span
        # When the plan needs every source frame, scan to the real end to count them exactly.
        to_end = not timeline.range_mode and stop >= source.num_frames
        scanned = 0

        def frames():
            nonlocal scanned
            for frame in source.scan(first, None if to_end else stop):
                scanned += 1
                yield frame

        expected = (source.num_frames if to_end else stop) - first
        face = self._face(cfg)
        # A clip shorter than the tracker's minimum track length (a still image) keeps its face.
        face = replace(face, track=replace(face.track, min_length=max(
            1, min(face.track.min_length, expected))))

        def one_pass(detector: FaceDetector, title: str) -> tuple[list[FaceTrack], int]:
            nonlocal scanned
            scanned = 0
            progress.start(title, expected)
            with timer.measure("track"):
                found = track_span(frames(), first, detector, face, source.fps,
                                   on_frame=lambda _: progress.advance())
            progress.finish()
            return found, scanned

        tracks, second_look = self.finder.find_tracks(one_pass, face.detect, source.size,
                                                      cfg.detect_max_side, cfg.refine_landmarks)
        if second_look and tracks:
            log.warning("the face detector found no face; dubbing %d face track(s) that the "
                        "checkpoint's landmark refiner recognised (--no-refine-landmarks "
                        "turns this off)", len(tracks))
        if to_end and first + scanned != source.num_frames:
            log.info("video has %d frames (estimated %d)", first + scanned, source.num_frames)
            timeline = plan_timeline(first + scanned, source.fps, audio.duration, cfg.timeline)
        return tracks, first, scanned, timeline

    def _align(self, tracks: list[FaceTrack], first: int, scanned: int, fps: float,
               cfg: InferConfig, timer: StageTimer) -> FaceTable:
        """The chosen face's crop geometry per source frame; NoFaceError per `cfg.no_face`."""
        face = self._face(cfg)
        if not tracks:
            if scanned and cfg.no_face == "error":
                raise NoFaceError("no face found in the frames to dub (use --no-face passthrough"
                                  " to copy the video with the new audio)")
            if scanned:
                log.warning("no face found: the video is copied unchanged with the new audio")
            return empty_face_table(face.align.crop_size, tracks)
        with timer.measure("align"):
            chosen = choose_tracks(tracks, cfg.face)
            return build_face_table(tracks, chosen, first, scanned, face, fps)

    def _plan_chunks(self, timeline: Timeline, table: FaceTable, sampling: SamplingConfig,
                     generator: CropGenerator) -> list[Chunk]:
        """Chunks over the frames that are dubbed and show the chosen face."""
        chunk_frames = sampling.chunk_frames or self.dubber.chunk_frames
        overlap = self.dubber.overlap if sampling.overlap is None else sampling.overlap
        if overlap < generator.motion_frames:
            raise ConfigError(f"--overlap {overlap} is below the model's {generator.motion_frames}"
                              " motion frames")
        if 2 * overlap > chunk_frames:
            raise ConfigError(f"--overlap {overlap} must be at most half of --chunk-frames "
                              f"{chunk_frames}")
        has_face = table.has_face(timeline.source_index)
        track = np.full(timeline.num_frames, -1, np.int64)
        track[has_face] = table.track_ids[timeline.source_index[has_face] - table.first]
        same_track = np.concatenate([[False], track[1:] == track[:-1]])
        segments = find_segments(timeline.dubbed & has_face, timeline.continuous() & same_track)
        return plan_chunks(segments, chunk_frames, overlap)

    def _reference_crops(self, source: VideoSource, table: FaceTable, generator: CropGenerator,
                         cfg: InferConfig, timer: StageTimer) -> dict[int, np.ndarray]:
        """`ref_frames` crops per chosen track, evenly spread over its frames (training's crop)."""
        count = generator.ref_frames
        if not count or not table.chosen:
            return {}
        refs: dict[int, np.ndarray] = {}
        with timer.measure("references"):
            for k in table.chosen:
                rows = np.flatnonzero(table.track_ids == k)
                if not rows.size:
                    continue
                picks = rows[np.linspace(0, rows.size - 1, count).round().astype(int)]
                frames = source.frames(picks + table.first)
                refs[k] = crop_frames(frames, table.affines[picks], table.crop_size,
                                      self._face(cfg).align.interpolation)
        return refs

    def _stream(self, ctx: StreamContext, source: VideoSource, audio: AudioTrack) -> int:
        """Decode the output's source frames and run the chunk stream into the sink."""
        timeline = ctx.timeline
        ctx.sink.open(timeline.fps, source.size, audio)
        ctx.progress.start("dubbing", timeline.num_frames)
        try:
            if ctx.observer is not None:
                ctx.observer.start(timeline.fps, source.size, audio)
            frames = _timed(source.frames(timeline.source_index), ctx.timer, "decode")
            written = ChunkStream(ctx).run(frames)
            with ctx.timer.measure("write"):
                ctx.sink.close()
                if ctx.observer is not None:
                    ctx.observer.close()
        except BaseException:
            ctx.sink.abort()
            if ctx.observer is not None:
                ctx.observer.abort()
            raise
        finally:
            ctx.progress.finish()
        return written

    def _summarize(self, generator: CropGenerator, timeline: Timeline, table: FaceTable,
                   chunks: list[Chunk], written: int, timer: StageTimer) -> DubSummary:
        """Counts and stage times of the run."""
        has_face = table.has_face(timeline.source_index)
        return DubSummary(
            model=generator.name, fps=timeline.fps, source_frames=timeline.num_source_frames,
            output_frames=written, faces_found=len(table.tracks), faces_dubbed=len(table.chosen),
            chunks=len(chunks), frames_dubbed=int((timeline.dubbed & has_face).sum()),
            frames_without_face=int((timeline.dubbed & ~has_face).sum()),
            frames_kept=int((~timeline.dubbed).sum()), steps=int(getattr(generator, "steps", 0)),
            seconds=dict(timer.seconds),
        )


def _timed(frames, timer: StageTimer, stage: str):
    """Iterate `frames`, adding the time spent producing each item to `stage`."""
    iterator = iter(frames)
    while True:
        with timer.measure(stage):
            item = next(iterator, None)
        if item is None:
            return
        yield item
