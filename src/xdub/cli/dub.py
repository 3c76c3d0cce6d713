"""`xdub dub VIDEO AUDIO -o OUT.mp4`: the product command (parse -> config -> xdub.pipeline).

Exit codes (also in `xdub dub --help` and docs/cli.md): 0 ok; 1 internal error (a bug); 2 bad
input or option (missing/unreadable/corrupt media, no video stream, bad flag); 3 output cannot
be written (missing or read-only folder, same path as an input); 4 no face found (see
`--no-face passthrough`); 5 model weights missing or invalid; 130 interrupted.
"""

from __future__ import annotations

import enum
import sys
import typing
from pathlib import Path

import typer

from xdub.cli.app import app
from xdub.config.infer import DTypeName, ExtendMode, LengthMode, NoFacePolicy, TailMode

OUTPUT_AUDIO_RATE = 48_000  # the output track's rate (AAC's home rate); features use 16 kHz
SILENCE_LEVEL = 1e-4  # peak below this: the new audio is treated as silent (warning)


def _choices(name: str, literal: object) -> type[enum.Enum]:
    """A str Enum from a Literal alias of xdub.config.infer, so choices have one source."""
    values = typing.get_args(literal)
    return enum.Enum(name, {v: v for v in values}, type=str)  # type: ignore[return-value]


Length = _choices("Length", LengthMode)
Extend = _choices("Extend", ExtendMode)
Tail = _choices("Tail", TailMode)
NoFace = _choices("NoFace", NoFacePolicy)
DType = _choices("DType", DTypeName)

EPILOG = (
    "Exit codes: 0 ok; 1 internal error; 2 bad input or option (missing, unreadable, corrupt "
    "or frameless media); 3 output cannot be written (missing/read-only folder, same as an "
    "input); 4 no face found (or use --no-face passthrough); 5 model weights missing/invalid."
)


class RichProgress:
    """`xdub.pipeline.Progress` drawn as rich progress bars with ETA on stderr."""

    def __init__(self, enabled: bool) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bars = Progress(TextColumn("{task.description:<15}"), BarColumn(),
                             MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"),
                             TimeRemainingColumn(), console=Console(stderr=True),
                             disable=not enabled)
        self.task = None

    def __enter__(self) -> RichProgress:  # noqa: PYI034 (no typing_extensions dependency)
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def start(self, stage: str, total: int | None) -> None:
        self.task = self.bars.add_task(stage, total=total)

    def advance(self, units: int = 1) -> None:
        if self.task is not None:
            self.bars.advance(self.task, units)

    def finish(self) -> None:
        if self.task is not None:
            task = self.bars.tasks[self.task]
            self.bars.update(self.task, total=task.completed)
        self.task = None


def _value(choice: enum.Enum | None) -> str | None:
    """The string of an enum choice (None stays None: the flag was not given)."""
    return None if choice is None else choice.value


def _config(config: Path | None, timeline: dict, sampling: dict, run: dict):  # -> InferConfig
    """InferConfig from an optional YAML plus the flags that were given (None = not given)."""
    from xdub.config import load, replace
    from xdub.config.infer import InferConfig

    cfg = load(InferConfig, config) if config is not None else InferConfig()
    given = {k: v for k, v in timeline.items() if v is not None}
    cfg = replace(cfg, timeline=replace(cfg.timeline, **given)) if given else cfg
    given = {k: v for k, v in sampling.items() if v is not None}
    cfg = replace(cfg, sampling=replace(cfg.sampling, **given)) if given else cfg
    given = {k: v for k, v in run.items() if v is not None}
    return replace(cfg, **given) if given else cfg


EMBEDDED_NOTE = ("note: dubbed with the embedded tiny default, trained on synthetic characters "
                 "only; for real footage use the full-scale weights (--dit --vae --whisper "
                 "--wav2vec2, see README 'Full-scale weights')")


def _print_summary(summary, out: Path) -> None:  # summary: DubSummary
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"xdub dub -> {out}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in summary.rows():
        table.add_row(name, value)
    Console(stderr=True).print(table)


def dub_file(get_pipeline, video: Path, audio: Path, out: Path, cfg, quiet: bool = False,
             save_debug: Path | None = None):  # get_pipeline: () -> DubPipeline; -> DubResult
    """Dub one VIDEO with one AUDIO into OUT: the one dubbing step of `xdub dub` and of every
    `xdub batch` job. Inputs are opened and the output checked before `get_pipeline()` loads
    (or returns the already loaded) model; OUT appears only when complete (temp + rename)."""
    from xdub.media import read_audio
    from xdub.pipeline import FileSink, FileSource
    from xdub.pipeline.debug import DebugVideos

    source = FileSource(video)  # MediaError (exit 2) before any heavy work
    sound = read_audio(audio, sample_rate=OUTPUT_AUDIO_RATE)
    sink = FileSink(out, inputs=[video, audio])  # OutputError (exit 3) before any heavy work
    if float(abs(sound.samples).max()) < SILENCE_LEVEL:
        print(f"warning: {audio} is silent: the mouth will stay closed", file=sys.stderr)
    pipe = get_pipeline()
    observer = None
    if save_debug is not None:
        observer = DebugVideos(save_debug, pipe.dubber.crop_size, inputs=(video, audio))
    with RichProgress(enabled=not quiet) as progress:
        return pipe(source, sound, cfg, output=sink, progress=progress, observer=observer)


def _run(video: Path, audio: Path, out: Path, cfg, weights: dict, save_debug: Path | None,
         quiet: bool) -> None:
    """Open the inputs, check the output, load the model, dub, report."""
    from xdub.pipeline import load_pipeline

    def get_pipeline():
        return load_pipeline(device=cfg.device, dtype=cfg.dtype, **weights)

    result = dub_file(get_pipeline, video, audio, out, cfg, quiet, save_debug)
    if result.summary.frames_without_face:
        print(f"warning: {result.summary.frames_without_face} frame(s) without the face were "
              "left unchanged", file=sys.stderr)
    if not quiet:
        _print_summary(result.summary, out)
    if not any(weights.get(k) for k in ("checkpoint", "dit", "vae", "whisper", "wav2vec2",
                                         "random_init")):
        print(EMBEDDED_NOTE, file=sys.stderr)
    print(f"wrote {out}")


@app.command(epilog=EPILOG)
def dub(
    video: Path = typer.Argument(..., help="Input video (a still image works as a 1-frame video)."),
    audio: Path = typer.Argument(..., help="New audio: any audio file, or a video's audio track."),
    out: Path = typer.Option(..., "-o", "--out", help="Output video (.mp4, .mov or .mkv)."),
    checkpoint: Path | None = typer.Option(None, "--checkpoint",
                                           help="Dubbing checkpoint folder (default: embedded)."),
    dit: Path | None = typer.Option(None, "--dit", help="Official X-Dub_model.safetensors."),
    vae: Path | None = typer.Option(None, "--vae", help="Official Wan2.2 VAE: Wan2.2_VAE.pth or .safetensors."),
    whisper: Path | None = typer.Option(None, "--whisper", help="Whisper large-v2 folder (transformers layout)."),
    wav2vec2: Path | None = typer.Option(None, "--wav2vec2", help="wav2vec2-base-960h folder."),
    random_init: bool = typer.Option(False, "--random-init",
                                     help="Untrained tiny model (smoke tests: lips get garbled)."),
    length: Length | None = typer.Option(None, "--length",
                                         help="Output length follows: audio (default)|video|"
                                              "shortest."),
    extend: Extend | None = typer.Option(None, "--extend",
                                         help="Video shorter than the audio: pingpong (default)|"
                                              "loop|freeze."),
    tail: Tail | None = typer.Option(None, "--tail", help="Video longer than the audio: trim "
                                     "(default) or keep (original lips, silence)."),
    start: float | None = typer.Option(None, "--start", min=0.0,
                                       help="Re-dub only from this second (new audio placed "
                                            "here; the rest stays as it was)."),
    end: float | None = typer.Option(None, "--end", min=0.0, help="End of the re-dub range (s)."),
    steps: int | None = typer.Option(None, "--steps", min=1, help="Sampling steps."),
    ref_scale: float | None = typer.Option(None, "--ref-scale", help="Reference guidance."),
    audio_scale: float | None = typer.Option(None, "--audio-scale", help="Audio guidance."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (same seed, same video)."),
    chunk_frames: int | None = typer.Option(None, "--chunk-frames", min=1,
                                            help="Frames per generated chunk."),
    overlap: int | None = typer.Option(None, "--overlap", min=0,
                                       help="Frames shared by consecutive chunks."),
    face: str | None = typer.Option(None, "--face", help="Face to dub: N (see `xdub faces`), "
                                    "longest (default) or largest."),
    no_face: NoFace | None = typer.Option(None, "--no-face", help="No face anywhere: error "
                                          "(exit 4, default) or passthrough."),
    detector: str | None = typer.Option(None, "--detector", help="Face detector backend."),
    device: str | None = typer.Option(None, "--device", help="auto (default), cpu, or a torch "
                                      "device name."),
    dtype: DType | None = typer.Option(None, "--dtype", help="Model dtype (auto: bf16 on an "
                                       "accelerator, fp32 on CPU)."),
    save_debug: Path | None = typer.Option(None, "--save-debug", help="Folder for crops.mp4, "
                                           "track.mp4, side_by_side.mp4."),
    config: Path | None = typer.Option(None, "--config", help="InferConfig YAML (configs/infer)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or summary."),
) -> None:
    """Dub VIDEO with AUDIO: same video, lips following the new audio, written to OUT."""
    cfg = _config(
        config,
        {"length": _value(length), "extend": _value(extend), "tail": _value(tail),
         "start": start, "end": end},
        {"steps": steps, "ref_scale": ref_scale, "audio_scale": audio_scale, "seed": seed,
         "chunk_frames": chunk_frames, "overlap": overlap},
        {"face": face, "no_face": _value(no_face), "detector": detector, "device": device,
         "dtype": _value(dtype)},
    )
    weights = {"checkpoint": checkpoint, "dit": dit, "vae": vae, "whisper": whisper,
               "wav2vec2": wav2vec2, "random_init": random_init, "seed": cfg.sampling.seed}
    _run(video, audio, out, cfg, weights, save_debug, quiet)
