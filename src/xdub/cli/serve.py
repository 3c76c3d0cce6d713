"""`xdub serve`: the web app (Gradio) on 127.0.0.1 by default, over the same API as `xdub dub`.

Uploads, examples and job folders live in one working folder (a new temporary one unless
--work-dir is given), removed when the server stops. Needs the `web` extra:
`pip install -e ".[web]"`.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import typer

from xdub.cli.app import NullContextOption, app
from xdub.config.web import WebConfig
from xdub.errors import ConfigError

DEFAULTS = WebConfig()


@app.command()
def serve(
    host: str = typer.Option(DEFAULTS.host, "--host", help="Address to listen on (0.0.0.0: "
                             "every network interface)."),
    port: int = typer.Option(DEFAULTS.port, "--port", help="Port to listen on."),
    checkpoint: Path | None = typer.Option(None, "--checkpoint",
                                           help="Dubbing checkpoint folder (default: embedded)."),
    dit: Path | None = typer.Option(None, "--dit", help="Official X-Dub_model.safetensors."),
    vae: Path | None = typer.Option(None, "--vae", help="Official Wan2.2 VAE file."),
    whisper: Path | None = typer.Option(None, "--whisper", help="Whisper large-v2 folder."),
    wav2vec2: Path | None = typer.Option(None, "--wav2vec2", help="wav2vec2-base-960h folder."),
    null_context: NullContextOption = None,
    device: str = typer.Option("auto", "--device", help="auto, cpu, or a torch device name."),
    max_upload_mb: int = typer.Option(DEFAULTS.max_upload_mb, "--max-upload-mb",
                                      help="Largest upload accepted, per file (MB)."),
    max_seconds: float = typer.Option(DEFAULTS.max_seconds, "--max-seconds",
                                      help="Longest video or audio accepted (s)."),
    queue_size: int = typer.Option(DEFAULTS.queue_size, "--queue-size",
                                   help="Jobs that may wait; one runs at a time."),
    examples: int = typer.Option(DEFAULTS.examples, "--examples",
                                 help="Synthetic example pairs shown under the page."),
    work_dir: Path | None = typer.Option(None, "--work-dir", help="Folder for uploads, examples "
                                         "and jobs (default: a temporary one, removed at exit)."),
) -> None:
    """Serve the web app: upload a video and new audio, pick a face, dub, download."""
    cfg = WebConfig(host=host, port=port, max_upload_mb=max_upload_mb, max_seconds=max_seconds,
                    queue_size=queue_size, examples=examples)
    folder = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="xdub-serve-"))
    folder.mkdir(parents=True, exist_ok=True)
    # Gradio keeps uploads in GRADIO_TEMP_DIR: inside our folder, so they go when it goes.
    os.environ["GRADIO_TEMP_DIR"] = str(folder / "uploads")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio  # noqa: F401  (checked here for a clear message)
    except ImportError:
        raise ConfigError('xdub serve needs gradio: pip install -e ".[web]"') from None
    from xdub.api import DubbingPipeline
    from xdub.web.app import serve as serve_page

    # SIGTERM (a service manager, `kill`) ends like Ctrl-C, so the working folder is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        pipe = DubbingPipeline.from_pretrained(checkpoint, dit=dit, vae=vae, whisper=whisper,
                                               wav2vec2=wav2vec2, null_context=null_context,
                                               device=device)
        serve_page(pipe, cfg, folder)
    finally:
        if work_dir is None:
            shutil.rmtree(folder, ignore_errors=True)
