"""`xdub make-pairs`: turn clips into (V', A) -> V pseudo-pairs with a trained inpainter.

Inputs are synthetic seeds (`--seeds 0:1000 --scenario mixed`) or real videos with face tracks
(`--videos 'clips/*.mp4' --tracks tracks/`). Sharded and resumable: rerun the same command to
finish; `--shard i/n` splits the work over n independent runs; without it each launched process
(torchrun, accelerate, MPI, Slurm) takes its share (`xdub.sharding`).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from xdub.cli.app import app
from xdub.errors import ConfigError


def _parse_range(text: str) -> list[int]:
    """'0:100' -> [0..99], '5' -> [0..4]."""
    try:
        lo, _, hi = text.partition(":")
        return list(range(int(lo), int(hi))) if hi else list(range(int(lo)))
    except ValueError:
        raise ConfigError(f"--seeds must look like 0:100, got '{text}'") from None


def _source(seeds: str | None, scenario: str, seconds: float, size: int,
            videos: list[str] | None, tracks: Path | None):
    from xdub.config.train import SynthSourceConfig, VideoSourceConfig
    from xdub.data.sources import SynthClipSource, VideoClipSource

    if videos:
        return VideoClipSource(VideoSourceConfig(tuple(videos), str(tracks or "")))
    if seeds is None:
        raise ConfigError("give --seeds (synthetic clips) or --videos")
    cfg = SynthSourceConfig(scenario=scenario, size=(size, size), clip_seconds=seconds)
    return SynthClipSource(cfg, _parse_range(seeds))


def _judge(scorer: str):
    if scorer == "none":
        return None
    from xdub.models.syncnet import SyncScorer, load_shipped_scorer
    from xdub.train.pairgen import SyncJudge

    return SyncJudge(load_shipped_scorer() if scorer == "package" else SyncScorer.from_pretrained(scorer))


@app.command("make-pairs")
def make_pairs(
    inpainter: Path = typer.Argument(..., help="Trained inpainter folder (run_dir/inpainter)."),
    out: Path = typer.Option(..., "--out", help="Pair folder (shards + manifest)."),
    seeds: str | None = typer.Option(None, "--seeds", help="Synthetic clip seeds, e.g. 0:1000."),
    scenario: str = typer.Option("mixed", "--scenario", help="Synthetic scenario preset."),
    seconds: float = typer.Option(2.0, "--clip-seconds", min=0.2, help="Synthetic clip length."),
    size: int = typer.Option(256, "--size", min=32, help="Synthetic frame side in pixels."),
    videos: list[str] | None = typer.Option(None, "--videos", help="Video files/globs (repeat)."),
    tracks: Path | None = typer.Option(None, "--tracks", help="Folder of <stem>.track.npz files."),
    config: Path | None = typer.Option(None, "--config", help="PairGenConfig YAML."),
    scorer: str = typer.Option("package", "--scorer",
                               help="Lip-sync scorer folder, 'package' (shipped) or 'none'."),
    shard: str | None = typer.Option(None, "--shard",
                                      help="i/n: process the shards k with k % n == i."),
    shard_size: int | None = typer.Option(None, "--shard-size", min=1, help="Clips per shard."),
    steps: int | None = typer.Option(None, "--steps", min=1, help="Euler steps per chunk."),
    kind: str = typer.Option("inpaint", "--kind", help="inpaint: V' from the inpainter with "
                             "donor audio (the editor's pairs); shuffle: V' from the clip's own "
                             "lips elsewhere, stored as prior_only (the lip prior's extra pairs; "
                             "the inpainter gives only the crop path)."),
) -> None:
    """Generate pseudo-pairs: inpaint each clip's lips with another clip's audio, filter, store."""
    from xdub.config import load, replace
    from xdub.config.train import FilterConfig, PairGenConfig
    from xdub.train.inpaint import load_inpainter
    from xdub.sharding import current_worker
    from xdub.train.pairgen import PairGenerator, ShufflePairGenerator, generate_pairs

    if kind not in ("inpaint", "shuffle"):
        raise ConfigError(f"--kind must be inpaint or shuffle, got '{kind}'")
    cfg = load(PairGenConfig, config) if config is not None else PairGenConfig()
    changes = {k: v for k, v in (("shard_size", shard_size), ("steps", steps)) if v is not None}
    if scorer == "none" and cfg.retrieval.enabled and kind == "inpaint":
        raise ConfigError("--scorer none cannot run with retrieval on (pairs.retrieval picks "
                          "mouths with the lip-sync scorer)")
    if scorer == "none":
        changes["filters"] = replace(cfg.filters, use_sync=False) if config else FilterConfig(use_sync=False)
    cfg = replace(cfg, **changes) if changes else cfg
    generator = ShufflePairGenerator if kind == "shuffle" else PairGenerator
    gen = generator(_source(seeds, scenario, seconds, size, videos, tracks),
                        load_inpainter(inpainter), _judge(scorer), cfg)
    summary = generate_pairs(gen, out, current_worker(shard))
    print(json.dumps(summary, indent=2))
