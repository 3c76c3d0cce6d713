"""`xdub train <stage>`: one subcommand per training recipe, all resumable from their run dir.

`train_app` is a typer sub-app; other stages register on it from their own modules
(`from xdub.cli.train import train_app` then `@train_app.command("codec")`), listed after
"train" in COMMAND_MODULES. Rerunning the same command with the same --run-dir resumes.
"""

from __future__ import annotations

from pathlib import Path

import typer

from xdub.cli.app import app

train_app = typer.Typer(help="Train a model (stage1, ...); rerun with the same --run-dir to resume.",
                        no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("stage1")
def stage1(
    config: Path = typer.Option(..., "--config", help="Stage1Config YAML (configs/train/)."),
    run_dir: Path = typer.Option(..., "--run-dir", help="Run folder: checkpoints, metrics, "
                                 "samples; an existing one is resumed."),
    steps: int | None = typer.Option(None, "--steps", min=1, help="Override loop.steps."),
    max_minutes: float | None = typer.Option(None, "--max-minutes", min=0.0,
                                             help="Stop cleanly (with a checkpoint) after this."),
) -> None:
    """Train the mask-based inpainting DiT (X-Dub stage 1) on single clips."""
    from xdub.config import load, replace
    from xdub.config.train import Stage1Config
    from xdub.train.stage1 import train_stage1

    cfg = load(Stage1Config, config)
    changes = {k: v for k, v in (("steps", steps), ("max_minutes", max_minutes)) if v is not None}
    if changes:
        cfg = replace(cfg, loop=replace(cfg.loop, **changes))
    result = train_stage1(cfg, run_dir)
    print(f"stage1: step {result.step} ({result.stopped}, resumed from {result.resumed_from}), "
          f"last loss {result.last_loss:.4f}; inpainter in {run_dir / 'inpainter'}")
