"""`xdub synth`: render procedural talking-character clips with exact ground truth.

Each clip is written as `<name>.mp4` (H.264 + AAC), `<name>.wav`, `<name>.masks.npz` and the
`<name>.json` sidecar; names are `<scenario>_<seed>` (+ `_a`/`_b` with --pairs).
"""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from xdub.cli.app import app
from xdub.config.synth import SCENARIOS
from xdub.errors import ConfigError, OutputError

# Typer shows enum values as the choices, straight from the registry.
Scenario = enum.Enum("Scenario", {name: name for name in SCENARIOS}, type=str)  # type: ignore[misc]


def _parse_size(text: str) -> tuple[int, int]:
    """'256x256' or '720x1280' (WIDTHxHEIGHT) -> (w, h)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size must look like 256x256 (WIDTHxHEIGHT), got '{text}'") from None
    return w, h


def _build_config(scenario: str, config: Path | None, size: str | None, fps: float | None,
                  duration: float | None):  # -> SynthConfig
    from xdub.config import load, replace
    from xdub.config.synth import SynthConfig

    cfg = load(SynthConfig, config) if config is not None else SCENARIOS[scenario]
    changes: dict = {}
    if size is not None:
        changes["size"] = _parse_size(size)
    if fps is not None:
        changes["fps"] = fps
    if duration is not None:
        changes["duration"] = duration
    return replace(cfg, **changes) if changes else cfg


@app.command()
def synth(
    out: Path = typer.Option(..., "--out", help="Output folder (created if missing)."),
    scenario: Scenario = typer.Option(
        "standard", "--scenario", help="Named scenario preset (X-DubBench style)."),
    num: int = typer.Option(1, "--num", min=1, help="Number of clips (or pairs) to render."),
    seed: int = typer.Option(0, "--seed", min=0,
                             help="First seed; clip i uses seed + i. Same seed, same clip."),
    pairs: bool = typer.Option(
        False, "--pairs",
        help="Render each seed twice with different speech (_a/_b): dubbing a with b's audio "
             "has the exact answer b."),
    size: str | None = typer.Option(None, "--size", help="Frame size WIDTHxHEIGHT, e.g. 512x512."),
    fps: float | None = typer.Option(None, "--fps", min=0.1, help="Frame rate (any float)."),
    duration: float | None = typer.Option(None, "--duration", min=0.04, help="Seconds per clip."),
    config: Path | None = typer.Option(
        None, "--config", help="SynthConfig YAML (see configs/synth/); replaces --scenario."),
) -> None:
    """Render synthetic talking-character clips with exact ground truth (mp4+wav+json)."""
    from rich.progress import Progress

    from xdub.synth.clip import plan_clips
    from xdub.synth.export import export_plan

    cfg = _build_config(scenario.value, config, size, fps, duration)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create output folder {out}: {err.strerror or err}") from None
    written = 0
    with Progress(transient=False) as progress:
        task = progress.add_task(f"synth {cfg.scenario}", total=num * (2 if pairs else 1))
        for s in range(seed, seed + num):
            for plan in plan_clips(s, cfg, pair=pairs):
                suffix = "" if plan.role == "single" else f"_{plan.role}"
                export_plan(plan, out, f"{cfg.scenario}_{s:06d}{suffix}")
                written += 1
                progress.advance(task)
    print(f"wrote {written} clip(s) ({cfg.size[0]}x{cfg.size[1]}, {cfg.fps:g} fps, "
          f"{cfg.duration:g} s) to {out}")
