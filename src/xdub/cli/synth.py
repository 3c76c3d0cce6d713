"""`xdub synth`: render procedural talking-character clips (placeholder until the engine lands)."""

from __future__ import annotations

from xdub.cli.app import app


@app.command()
def synth() -> None:
    """Render synthetic talking-character clips with exact ground truth."""
    raise NotImplementedError
