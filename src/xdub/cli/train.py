"""`xdub train <step>`: one subcommand per training recipe, all on the one training loop and
resumable from their run dir: `codec`, `syncnet`, `occluders`, `landmarks`, `stage1` here;
`stage2` and `chain` in `cli.train_stage2` (registered on `train_app`, listed after "train" in
COMMAND_MODULES).
Rerunning the same command with the same --run-dir resumes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import typer

from xdub.cli.app import app

train_app = typer.Typer(help="Train a model (codec, syncnet, occluders, landmarks, stage1, stage2, "
                         "chain); "
                         "rerun to resume.",
                        no_args_is_help=True)
app.add_typer(train_app, name="train")

T = TypeVar("T")
RUN_DIR_HELP = "Run folder: checkpoints, metrics, samples; an existing one is resumed."
STEPS_HELP = "Override loop.steps."
BUDGET_HELP = "Stop cleanly (with a checkpoint) after this many minutes."


def with_loop_overrides(cfg: T, steps: int | None, max_minutes: float | None) -> T:
    """`cfg` (any recipe with a `loop: LoopConfig`) with the command line's loop overrides."""
    from xdub.config import replace

    changes: dict[str, Any] = {k: v for k, v in (("steps", steps), ("max_minutes", max_minutes))
                               if v is not None}
    return replace(cfg, loop=replace(cfg.loop, **changes)) if changes else cfg


@train_app.command("codec")
def codec(
    config: Path = typer.Option(..., "--config", help="CodecTrainConfig YAML "
                                "(configs/codec/train_tiny.yaml)."),
    run_dir: Path = typer.Option(..., "--run-dir", help=RUN_DIR_HELP),
    model: Path | None = typer.Option(None, "--model", help="CodecConfig YAML (default: the "
                                      "tiny preset, configs/codec/tiny.yaml)."),
    out: Path | None = typer.Option(None, "--out", help="Codec folder (default RUN_DIR/final)."),
    steps: int | None = typer.Option(None, "--steps", min=1, help=STEPS_HELP),
    max_minutes: float | None = typer.Option(None, "--max-minutes", min=0.0, help=BUDGET_HELP),
) -> None:
    """Train the tiny video codec on face crops of the synthetic engine."""
    from xdub.config import load
    from xdub.config.codec import CODEC_PRESETS, CodecConfig, CodecTrainConfig
    from xdub.train.codec import train_tiny_codec_on_synth

    cfg = with_loop_overrides(load(CodecTrainConfig, config), steps, max_minutes)
    codec_cfg = load(CodecConfig, model) if model is not None else CODEC_PRESETS["tiny"]
    out = out or run_dir / "final"
    psnr = train_tiny_codec_on_synth(run_dir, out, codec_cfg.tiny, cfg)
    print(f"codec: held-out PSNR {psnr:.2f} dB; codec folder {out}")


@train_app.command("syncnet")
def syncnet(
    config: Path = typer.Option(..., "--config", help="SyncTrainConfig YAML "
                                "(configs/sync/train_tiny.yaml)."),
    run_dir: Path = typer.Option(..., "--run-dir", help=RUN_DIR_HELP),
    steps: int | None = typer.Option(None, "--steps", min=1, help=STEPS_HELP),
    max_minutes: float | None = typer.Option(None, "--max-minutes", min=0.0, help=BUDGET_HELP),
) -> None:
    """Train the tiny lip-sync scorer on clips of the synthetic engine."""
    from xdub.config import load
    from xdub.config.sync import SyncTrainConfig
    from xdub.train.syncnet import train_sync_scorer

    cfg = with_loop_overrides(load(SyncTrainConfig, config), steps, max_minutes)
    train_sync_scorer(cfg, run_dir)
    print(f"syncnet: scorer folder {run_dir / 'final'}")


@train_app.command("occluders")
def occluders(
    config: Path = typer.Option(..., "--config", help="OccluderTrainConfig YAML "
                                "(configs/occluders/train_tiny.yaml)."),
    run_dir: Path = typer.Option(..., "--run-dir", help=RUN_DIR_HELP),
    steps: int | None = typer.Option(None, "--steps", min=1, help=STEPS_HELP),
    max_minutes: float | None = typer.Option(None, "--max-minutes", min=0.0, help=BUDGET_HELP),
) -> None:
    """Train the occluder segmenter (hands, microphones, objects over the face) on engine clips;
    a dubbing folder with it in occluders/ keeps the input's pixels there."""
    from xdub.config import load
    from xdub.config.occluders import OccluderTrainConfig
    from xdub.train.occluders import train_occluder_net

    cfg = with_loop_overrides(load(OccluderTrainConfig, config), steps, max_minutes)
    train_occluder_net(cfg, run_dir)
    print(f"occluders: segmenter folder {run_dir / 'final'} (held-out figures in metrics.json)")


@train_app.command("landmarks")
def landmarks(
    config: Path = typer.Option(..., "--config", help="LandmarkTrainConfig YAML "
                                "(configs/landmarks/train_tiny.yaml)."),
    run_dir: Path = typer.Option(..., "--run-dir", help=RUN_DIR_HELP),
    steps: int | None = typer.Option(None, "--steps", min=1, help=STEPS_HELP),
    max_minutes: float | None = typer.Option(None, "--max-minutes", min=0.0, help=BUDGET_HELP),
) -> None:
    """Train the landmark refiner on engine frames with exact landmarks; a dubbing folder with it
    in landmarks/ moves the detector's landmarks to where its training crops put the face."""
    from xdub.config import load
    from xdub.config.landmarks import LandmarkTrainConfig
    from xdub.train.landmarks import train_landmark_net

    cfg = with_loop_overrides(load(LandmarkTrainConfig, config), steps, max_minutes)
    train_landmark_net(cfg, run_dir)
    print(f"landmarks: refiner folder {run_dir / 'final'} (held-out figures in metrics.json)")


@train_app.command("stage1")
def stage1(
    config: Path = typer.Option(..., "--config", help="Stage1Config YAML (configs/train/)."),
    run_dir: Path = typer.Option(..., "--run-dir", help=RUN_DIR_HELP),
    steps: int | None = typer.Option(None, "--steps", min=1, help=STEPS_HELP),
    max_minutes: float | None = typer.Option(None, "--max-minutes", min=0.0, help=BUDGET_HELP),
) -> None:
    """Train the mask-based inpainting DiT (X-Dub stage 1) on single clips."""
    from xdub.config import load
    from xdub.config.train import Stage1Config
    from xdub.train.stage1 import train_stage1

    cfg = with_loop_overrides(load(Stage1Config, config), steps, max_minutes)
    result = train_stage1(cfg, run_dir)
    print(f"stage1: step {result.step} ({result.stopped}, resumed from {result.resumed_from}), "
          f"last loss {result.last_loss:.4f}; inpainter in {run_dir / 'inpainter'}")
