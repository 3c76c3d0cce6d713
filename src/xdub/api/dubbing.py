"""`DubbingPipeline`: the one documented entry point for dubbing from Python (docs/api.md).

    pipe = DubbingPipeline.from_pretrained()            # None: the embedded default
    result = pipe("talk.mp4", "voice.wav", output="dubbed.mp4", steps=4, progress=print)
    result.output, result.summary.seconds, result.sync, result.faces.tracks

It wraps `xdub.pipeline.DubPipeline` (the algorithm) and adds what every front end needs, so
`xdub dub`, `xdub serve` and user code run the same code: inputs given as paths or in memory
(`open_inputs`: bad media fails before any model work), options by name (`infer_config`),
a progress callback with ETA, warnings worth showing, and the lip-sync score of the dubbed
frames. Imports: xdub.{pipeline, bench (sync score), media, config, types, errors}.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xdub.api.options import infer_config
from xdub.api.sync import SyncProbe
from xdub.config.infer import InferConfig
from xdub.media import FileAudio
from xdub.pipeline import DubPipeline, DubResult, FileSink, FileSource, load_pipeline
from xdub.pipeline.progress import CallbackProgress, Progress, ProgressUpdate
from xdub.pipeline.sources import FrameSink, VideoSource
from xdub.pipeline.stream import FrameObserver
from xdub.types import AudioTrack, Video, audio_blocks

OUTPUT_AUDIO_RATE = 48_000  # the output track's rate (AAC's home rate); features use 16 kHz
SILENCE_LEVEL = 1e-4  # peak below this: the new audio is treated as silent (warning)
PathLike = str | os.PathLike
ProgressArg = Progress | Callable[[ProgressUpdate], None] | None


@dataclass
class DubInputs:
    """Opened inputs of one run: the video source, the new audio (a file's is decoded as it is
    read, never held whole), where the output goes."""

    video: Video | VideoSource
    audio: AudioTrack
    sink: FrameSink | None  # None: frames come back in memory (`result.video`)
    output: Path | None


def open_inputs(video: PathLike | Video | VideoSource, audio: PathLike | AudioTrack,
                output: PathLike | FrameSink | None = None) -> DubInputs:
    """Probe/read the inputs and check the output path: MediaError (exit 2) or OutputError
    (exit 3) here, before any model is loaded or run."""
    paths = [Path(p) for p in (video, audio) if isinstance(p, (str, os.PathLike))]
    source = FileSource(video) if isinstance(video, (str, os.PathLike)) else video
    sound = (FileAudio(audio, sample_rate=OUTPUT_AUDIO_RATE)
             if isinstance(audio, (str, os.PathLike)) else audio)
    if isinstance(output, (str, os.PathLike)):
        sink = FileSink(output, inputs=paths)
        return DubInputs(source, sound, sink, sink.path)
    return DubInputs(source, sound, output, None)


def peak_level(track: AudioTrack) -> float:
    """Largest absolute sample of the track, read block by block."""
    return max((float(np.abs(b).max(initial=0.0)) for b in audio_blocks(track)), default=0.0)


class ObserverGroup:
    """Several `FrameObserver`s as one (debug videos and the sync probe)."""

    def __init__(self, observers: list[FrameObserver]) -> None:
        self.observers = observers

    def start(self, fps: float, size: tuple[int, int], audio: AudioTrack | None) -> None:
        for observer in self.observers:
            observer.start(fps, size, audio)

    def observe(self, *args: Any) -> None:
        for observer in self.observers:
            observer.observe(*args)

    def close(self) -> None:
        for observer in self.observers:
            observer.close()

    def abort(self) -> None:
        for observer in self.observers:
            observer.abort()


def _weights_label(path: PathLike | None, official: bool, random_init: bool) -> str:
    """Where the model comes from, for the summary."""
    if official:
        return "official X-Dub files"
    if random_init:
        return "random init"
    return "embedded default" if path is None else f"checkpoint {path}"


class DubbingPipeline:
    """Load once, dub many: `pipe(video, audio, output=None, **options) -> DubResult`."""

    def __init__(self, pipeline: DubPipeline, weights: str = "", sync_scorer: Any = None) -> None:
        self.pipeline, self.weights, self.sync_scorer = pipeline, weights, sync_scorer

    @classmethod
    def from_pretrained(cls, path: PathLike | None = None, *, dit: PathLike | None = None,
                        vae: PathLike | None = None, whisper: PathLike | None = None,
                        wav2vec2: PathLike | None = None, null_context: PathLike | None = None,
                        random_init: bool = False, seed: int = 0, device: str = "auto",
                        dtype: str = "auto", offload: str | None = None,
                        sync_scorer: str = "auto") -> DubbingPipeline:
        """A checkpoint folder, the official files (`dit`, `vae`, `whisper`, `wav2vec2`),
        `random_init`, or (all None) the embedded default. `offload` (e.g. "cpu"): only the
        running phase's models on `device` (less accelerator memory, same video).
        `sync_scorer`: "auto" (the shipped tiny scorer), "none", or a scorer folder."""
        from xdub.bench.lipsync import load_sync_scorer

        pipeline = load_pipeline(path, dit=dit, vae=vae, whisper=whisper, wav2vec2=wav2vec2,
                                 null_context=null_context, random_init=random_init, seed=seed,
                                 device=device, dtype=dtype, offload=offload)
        official = any(v is not None for v in (dit, vae, whisper, wav2vec2))
        return cls(pipeline, _weights_label(path, official, random_init),
                   load_sync_scorer(sync_scorer))

    @property
    def embedded(self) -> bool:
        """True when this is the embedded tiny default (not meant for real footage)."""
        return self.weights == "embedded default"

    @property
    def face_config(self):  # -> xdub.config.face.FaceConfig
        """The face detection/tracking settings the checkpoint was trained with."""
        return self.pipeline.dubber.face

    def __call__(self, video: PathLike | Video | VideoSource | DubInputs,
                 audio: PathLike | AudioTrack | None = None,
                 output: PathLike | FrameSink | None = None, *, progress: ProgressArg = None,
                 observer: FrameObserver | None = None, config: InferConfig | None = None,
                 score_sync: bool = True, **options: Any) -> DubResult:
        """Dub `video` with `audio`; frames to `output` (a path or sink) or into memory.

        `options` are `InferConfig` fields by name (docs/api.md): length, extend, tail, start,
        end, steps, ref_scale, audio_scale, denoise_strength, keep_occluders, seed, chunk_frames,
        overlap, face, no_face, detector, refine_landmarks, device, dtype. `progress`: a callable
        receiving `ProgressUpdate`s (or a `Progress`).
        """
        inputs = video if isinstance(video, DubInputs) else open_inputs(video, audio, output)
        cfg = infer_config(config, **options)
        warnings = []
        if peak_level(inputs.audio) < SILENCE_LEVEL:
            warnings.append("the new audio is silent: the mouth will stay closed")
        probe = SyncProbe(self.sync_scorer) if score_sync and self.sync_scorer else None
        observers = [o for o in (observer, probe) if o is not None]
        if callable(progress) and not hasattr(progress, "advance"):
            progress = CallbackProgress(progress)
        result = self.pipeline(inputs.video, inputs.audio, cfg, output=inputs.sink,
                               progress=progress,
                               observer=ObserverGroup(observers) if observers else None)
        result.summary.weights = self.weights
        result.output = inputs.output
        result.sync = probe.score() if probe is not None else None
        if result.summary.frames_without_face:
            warnings.append(f"{result.summary.frames_without_face} frame(s) without the face "
                            "were left unchanged")
        result.warnings = warnings
        return result
