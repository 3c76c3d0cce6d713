"""`xdub dub VIDEO AUDIO -o OUT.mp4`: the product command (parse -> config -> xdub.api).

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

from xdub.cli.app import (FastOption, NullContextOption, OffloadOption, ThreadsOption, app,
                          set_cpu_threads)
from xdub.cli.progress import progress_for
from xdub.config.infer import (
    DTypeName,
    ExtendMode,
    InferConfig,
    LengthMode,
    NoFacePolicy,
    TailMode,
)


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


def _value(choice: enum.Enum | None) -> str | None:
    """The string of an enum choice (None stays None: the flag was not given)."""
    return None if choice is None else choice.value


# What an option left out falls back to. Run options: `InferConfig()`. Sampling and chunking:
# the checkpoint's dubber.json; these are the embedded default's (tests/test_cli_fixes.py
# checks them against the shipped file, so --help cannot drift from it).
RUN_DEFAULTS = InferConfig()
EMBEDDED_SAMPLING = {"steps": 2, "ref_scale": 1.0, "audio_scale": 1.0, "denoise_strength": 0.1,
                     "chunk_frames": 17, "overlap": 2}


def _checkpoint_default(name: str) -> str:
    """`[default: ...]` text of a sampling option: the checkpoint's, with the embedded value."""
    return f"checkpoint's; embedded default {EMBEDDED_SAMPLING[name]:g}"


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


def _run(video: Path, audio: Path, out: Path, cfg, weights: dict, save_debug: Path | None,
         quiet: bool) -> None:
    """Open the inputs, check the output, load the model, dub, report (all via xdub.api)."""
    from xdub.api import DubbingPipeline, open_inputs
    from xdub.pipeline.debug import DebugVideos

    inputs = open_inputs(video, audio, out)  # exit 2 / 3 before any heavy work
    pipe = DubbingPipeline.from_pretrained(weights.pop("checkpoint"), device=cfg.device,
                                           dtype=cfg.dtype, **weights)
    observer = None
    if save_debug is not None:
        observer = DebugVideos(save_debug, pipe.pipeline.dubber.crop_size, inputs=(video, audio))
    with progress_for(quiet) as progress:
        result = pipe(inputs, config=cfg, progress=progress, observer=observer,
                      score_sync=not quiet)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not quiet:
        _print_summary(result.summary, out)
        if result.sync is not None:
            print(f"lip sync (LSE-C, higher is better): {result.sync['lse_c']:.2f}",
                  file=sys.stderr)
    if pipe.embedded:
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
    null_context: NullContextOption = None,
    random_init: bool = typer.Option(False, "--random-init",
                                     help="Untrained tiny model (smoke tests: lips get garbled)."),
    length: Length | None = typer.Option(None, "--length", help="Output length follows the "
                                         "audio, the video or the shortest.",
                                         show_default=RUN_DEFAULTS.timeline.length),
    extend: Extend | None = typer.Option(None, "--extend", help="Video shorter than the audio: "
                                         "play it back and forth, loop it or hold the last frame.",
                                         show_default=RUN_DEFAULTS.timeline.extend),
    tail: Tail | None = typer.Option(None, "--tail", help="Video longer than the audio: trim "
                                     "it or keep it (original lips, silence).",
                                     show_default=RUN_DEFAULTS.timeline.tail),
    start: float | None = typer.Option(None, "--start", min=0.0,
                                       help="Re-dub only from this second (new audio placed "
                                            "here; the rest stays as it was).",
                                       show_default="0: the whole video"),
    end: float | None = typer.Option(None, "--end", min=0.0, help="End of the re-dub range (s).",
                                     show_default="start + the audio's length"),
    steps: int | None = typer.Option(None, "--steps", min=1, help="Sampling steps.",
                                     show_default=_checkpoint_default("steps")),
    fast: FastOption = False,
    ref_scale: float | None = typer.Option(None, "--ref-scale", help="Reference guidance.",
                                           show_default=_checkpoint_default("ref_scale")),
    audio_scale: float | None = typer.Option(None, "--audio-scale", help="Audio guidance.",
                                             show_default=_checkpoint_default("audio_scale")),
    strength: float | None = typer.Option(None, "--strength", min=0.0, max=1.0,
                                          help="Denoise strength: < 1 starts from the editor's "
                                               "own guess noised to this level; 1 = from pure "
                                               "noise.",
                                          show_default=_checkpoint_default("denoise_strength")),
    keep_occluders: bool = typer.Option(True, "--occluders/--no-occluders",
                                        help="Keep the input's pixels under hands, microphones "
                                             "and objects over the mouth, and keep them out of "
                                             "a lip prior's chunk mean (checkpoints with an "
                                             "occluder segmenter, like the embedded default)."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (same seed, same video).",
                                    show_default=str(RUN_DEFAULTS.sampling.seed)),
    chunk_frames: int | None = typer.Option(None, "--chunk-frames", min=1,
                                            help="Frames per generated chunk.",
                                            show_default=_checkpoint_default("chunk_frames")),
    overlap: int | None = typer.Option(None, "--overlap", min=0,
                                       help="Frames shared by consecutive chunks.",
                                       show_default=_checkpoint_default("overlap")),
    face: str | None = typer.Option(None, "--face", help="Face to dub: N (see `xdub faces`), "
                                    "longest or largest.", show_default=RUN_DEFAULTS.face),
    no_face: NoFace | None = typer.Option(None, "--no-face", help="No face anywhere: error "
                                          "(exit 4) or passthrough.",
                                          show_default=RUN_DEFAULTS.no_face),
    detector: str | None = typer.Option(None, "--detector", help="Face detector backend.",
                                        show_default="the checkpoint's: mediapipe"),
    refine_landmarks: bool = typer.Option(True, "--refine-landmarks/--no-refine-landmarks",
                                          help="Move the detector's landmarks with the "
                                               "checkpoint's landmark refiner (checkpoints with "
                                               "one, like the embedded default)."),
    offload: OffloadOption = None,
    threads: ThreadsOption = None,
    device: str | None = typer.Option(None, "--device", help="auto, cpu, or a torch device "
                                      "name.", show_default=RUN_DEFAULTS.device),
    dtype: DType | None = typer.Option(None, "--dtype", help="Model dtype (auto: bf16 on an "
                                       "accelerator, fp32 on CPU).",
                                       show_default=RUN_DEFAULTS.dtype),
    save_debug: Path | None = typer.Option(None, "--save-debug", help="Folder for crops.mp4, "
                                           "track.mp4, side_by_side.mp4."),
    config: Path | None = typer.Option(None, "--config", help="InferConfig YAML (configs/infer)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or summary."),
) -> None:
    """Dub VIDEO with AUDIO: same video, lips following the new audio, written to OUT."""
    from xdub.api import infer_config
    from xdub.config import load

    set_cpu_threads(threads)
    cfg = infer_config(
        load(InferConfig, config) if config is not None else None,
        length=_value(length), extend=_value(extend), tail=_value(tail), start=start, end=end,
        steps=steps, fast=fast or None, ref_scale=ref_scale, audio_scale=audio_scale,
        denoise_strength=strength, keep_occluders=None if keep_occluders else False,
        seed=seed, chunk_frames=chunk_frames, overlap=overlap, face=face, no_face=_value(no_face),
        detector=detector, refine_landmarks=None if refine_landmarks else False,
        device=device, dtype=_value(dtype),
    )
    weights = {"checkpoint": checkpoint, "dit": dit, "vae": vae, "whisper": whisper,
               "wav2vec2": wav2vec2, "null_context": null_context, "random_init": random_init,
               "offload": offload, "seed": cfg.sampling.seed}
    _run(video, audio, out, cfg, weights, save_debug, quiet)
