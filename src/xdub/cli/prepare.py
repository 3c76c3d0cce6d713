"""`xdub prepare INPUTS... --out DIR`: raw talking videos -> training clip shards + report.

Sharded and resumable: rerun the same command to finish (finished shards are skipped);
`--shard i/n` splits the videos over n independent runs; without it each launched process
(torchrun, accelerate, MPI, Slurm) takes its share (`xdub.sharding`).
"""

from __future__ import annotations

from pathlib import Path

import typer

from xdub.cli.app import app


def _encoders(cache):
    """The frozen encoders of step 7 from `PrepareConfig.cache`, with the trainers' loaders."""
    if cache.codec is None and cache.audio is None:
        return None
    from xdub.audio import build_featurizer
    from xdub.data.prepare.cache import ClipEncoders
    from xdub.train.inpaint import load_codec

    codec = load_codec(cache.codec, cache.codec_weights) if cache.codec is not None else None
    featurizer = build_featurizer(cache.audio) if cache.audio is not None else None
    return ClipEncoders(codec, featurizer)


@app.command()
def prepare(
    inputs: list[str] = typer.Argument(..., help="Video files, folders, globs or .txt lists."),
    out: str = typer.Option(..., "--out", help="Output folder or object-storage URL (s3://...; "
                            "needs its fsspec filesystem package): shards, manifest, report."),
    staging: Path | None = typer.Option(None, "--staging", help="Local folder where shards are "
                                        "built before upload, for URL outputs (default: temp)."),
    preset: str = typer.Option("tiny", "--preset", help="Crop size preset: tiny (96 px) or "
                               "wan5b (512 px)."),
    config: Path | None = typer.Option(None, "--config", help="PrepareConfig YAML (overrides "
                                       "--preset)."),
    crop_size: int | None = typer.Option(None, "--crop-size", min=32, help="Aligned crop side "
                                         "in px (default: the preset's)."),
    clip_seconds: float | None = typer.Option(None, "--clip-seconds", min=0.5,
                                              help="Clip length cut from each shot."),
    shard: str | None = typer.Option(None, "--shard", help="Do only shard group i of n: 'i/n'."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip the HTML report."),
) -> None:
    """Cut raw videos into clean training clips: scene cuts, one face per clip, aligned crops,
    16 kHz audio with its offset corrected, quality filters; every reject with its reason."""
    from xdub.data.prepare import run_prepare
    from xdub.data.prepare.inputs import collect_videos
    from xdub.sharding import current_worker

    cfg = _config(config, preset, crop_size, clip_seconds)
    videos = collect_videos(inputs)
    worker = current_worker(shard)
    summary = run_prepare(videos, out, cfg, worker, report=not no_report, staging=staging,
                          encoders=_encoders(cfg.cache))
    _print_summary(summary, worker.label, out, not no_report)


def _config(path: Path | None, preset: str, crop_size: int | None, clip_seconds: float | None):
    """PrepareConfig from --config or --preset, with --crop-size / --clip-seconds on top."""
    from xdub.config import load, replace
    from xdub.config.prepare import PREPARE_PRESETS, PrepareConfig
    from xdub.errors import ConfigError

    if path is not None:
        cfg = load(PrepareConfig, path)
    elif preset in PREPARE_PRESETS:
        cfg = PREPARE_PRESETS[preset]
    else:
        raise ConfigError(f"unknown preset {preset!r}; choose from {sorted(PREPARE_PRESETS)}")
    if crop_size is not None:
        cfg = replace(cfg, face=replace(cfg.face, align=replace(cfg.face.align,
                                                                crop_size=crop_size)))
    if clip_seconds is not None:
        segment = replace(cfg.segment, clip_seconds=clip_seconds,
                          min_clip_seconds=min(cfg.segment.min_clip_seconds, clip_seconds))
        cfg = replace(cfg, segment=segment)
    return cfg


def _print_summary(summary, label: str, out: str, report: bool) -> None:
    rejected = ", ".join(f"{k} {v}" for k, v in sorted(summary.rejected.items())) or "none"
    typer.echo(f"worker {label}: {len(summary.shards_written)} shard(s) written, "
               f"{len(summary.shards_skipped)} already done; kept {summary.kept} clips; "
               f"rejected: {rejected}")
    if summary.complete:
        typer.echo(f"manifest: {out}/manifest.jsonl"
                   + (f"\nreport: {out}/report/index.html" if report else ""))
    else:
        typer.echo("other shards are still to be done (rerun, or wait for the other workers)")
