"""`xdub bench`: run the seed-locked synthetic dubbing benchmark and write its report.

Outputs in --out: results.json (machine-readable), manifest.json, report.md, report.html,
plots/*.png and strips/*.png. Flags override the config file (or the default preset).
"""

from __future__ import annotations

from pathlib import Path

import typer

from xdub.cli.app import app


def _split(text: str | None) -> tuple[str, ...] | None:
    """'a,b, c' -> ('a', 'b', 'c'); None stays None."""
    if text is None:
        return None
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _build_config(
    config: Path | None,
    methods: str | None,
    checkpoints: list[str],
    scenarios: str | None,
    clips: int | None,
    duration: float | None,
    codec: str | None,
    sync_scorer: str | None,
):  # -> BenchConfig
    from xdub.config import load, replace
    from xdub.config.bench import BENCH_PRESETS, BenchConfig

    cfg = load(BenchConfig, config) if config is not None else BENCH_PRESETS["default"]
    changes: dict = {}
    if methods is not None:
        changes["methods"] = _split(methods)
    if checkpoints:
        changes["checkpoints"] = tuple(checkpoints)
    if scenarios is not None:
        changes["scenarios"] = _split(scenarios)
    if clips is not None:
        changes["clips"] = clips
    if duration is not None:  # an explicit duration applies to every scenario, `long` included
        changes["duration"], changes["duration_overrides"] = duration, {}
    if codec is not None:
        changes["codec"] = codec
    if sync_scorer is not None:
        changes["metrics"] = replace(cfg.metrics, sync_scorer=sync_scorer)
    return replace(cfg, **changes) if changes else cfg


@app.command()
def bench(
    out: Path = typer.Option(
        Path("bench_out"), "--out", help="Output folder (created if missing)."
    ),
    methods: str | None = typer.Option(
        None,
        "--methods",
        help="Comma list of methods: copy_input, oracle, codec_ceiling, pipeline, or "
        "pkg.module:factory.",
    ),
    checkpoint: list[str] = typer.Option(
        [],
        "--checkpoint",
        help="DubPipeline checkpoint folder to benchmark (repeatable; NAME=DIR names it).",
    ),
    scenarios: str | None = typer.Option(
        None, "--scenarios", help="Comma list of scenarios, e.g. standard,occlusion."
    ),
    clips: int | None = typer.Option(None, "--clips", min=1, help="Clips per scenario."),
    duration: float | None = typer.Option(
        None, "--duration", min=0.2, help="Seconds per clip, for every scenario."
    ),
    codec: str | None = typer.Option(
        None, "--codec", help="Codec checkpoint folder or CodecConfig YAML (codec_ceiling)."
    ),
    sync_scorer: str | None = typer.Option(
        None, "--sync-scorer", help="auto (shipped tiny scorer), none, or a scorer folder."
    ),
    device: str = typer.Option("cpu", "--device", help="Torch device for network methods."),
    config: Path | None = typer.Option(
        None, "--config", help="BenchConfig YAML (see configs/bench/default.yaml)."
    ),
) -> None:
    """Benchmark dubbing methods on synthetic pairs with exact answers (results + report)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from xdub.bench.runner import run_bench

    cfg = _build_config(config, methods, checkpoint, scenarios, clips, duration, codec, sync_scorer)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task("bench", total=None)

        def report(done: int, total: int, description: str) -> None:
            progress.update(task, completed=done, total=total, description=description)

        results = run_bench(cfg, out, device=device, progress=report)
    print(
        f"bench {results.manifest.manifest_id}: {len(results.manifest.entries)} pair(s) x "
        f"{len(results.methods)} method(s) -> {out}/report.md, {out}/results.json"
    )
