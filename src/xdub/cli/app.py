"""The typer application object; command modules import it and add their commands."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from xdub import __version__

app = typer.Typer(
    name="xdub",
    help="Mask-free visual dubbing: give a video and new audio, get the video with matching lips.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"xdub {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log details to stderr."),
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


# Options that `xdub dub`, `xdub batch` (and `xdub serve`) share, declared once
# (`name: OffloadOption = None`).
OffloadOption = Annotated[str | None, typer.Option(
    "--offload", help="Phase offload: keep the models on this device (e.g. cpu) and move only "
    "the running phase's onto --device (less GPU memory, same video).", show_default="off")]
ThreadsOption = Annotated[int | None, typer.Option(
    "--threads", min=1, help="CPU threads for torch; 1 is often faster when other jobs share "
    "the CPU (waiting threads spin)", show_default="torch's: one per physical core")]

NullContextOption = Annotated[Path | None, typer.Option(
    "--null-context", help="With the official files: the umT5-XXL encoding of the empty prompt "
    "(safetensors, made by scripts/encode_null_context.py); the official model always sees it. "
    "Without it the context is zeros: not the official pictures.", show_default="zeros")]

FastOption = Annotated[bool, typer.Option(
    "--fast", help="3/4 of the checkpoint's sampling steps (embedded default: 6 of 8): 25% "
    "fewer DiT evaluations, ~25% less generation time; measured: lip-opening corr. 0.46 vs "
    "0.49, old-lip leak 0.62 vs 0.57 (docs/design.md 'Fast preset'). Not with --steps.")]


def set_cpu_threads(threads: int | None) -> None:
    """`torch.set_num_threads(threads)` for the whole process when given (before any model
    runs); None keeps torch's default (one per physical core)."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
