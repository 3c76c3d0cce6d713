"""`xdub train stage2` (the mask-free editor) and `xdub train chain` (the whole tiny recipe).

Registered on the `xdub train` sub-app; listed after "train" in COMMAND_MODULES. Both resume
when rerun with the same output folder.
"""

from __future__ import annotations

from pathlib import Path

import typer

from xdub.cli.train import BUDGET_HELP, STEPS_HELP, train_app, with_loop_overrides


@train_app.command("stage2")
def stage2(
    config: Path = typer.Option(..., "--config", help="Stage2Config YAML (configs/train/)."),
    run_dir: Path = typer.Option(..., "--run-dir", help="Run folder; an existing one resumes."),
    pairs: Path | None = typer.Option(None, "--pairs", help="Pair folder (overrides `pairs`)."),
    init_from: Path | None = typer.Option(None, "--init-from",
                                          help="Stage-1 DiT folder (inpainter/dit)."),
    steps: int | None = typer.Option(None, "--steps", min=1, help=STEPS_HELP),
    max_minutes: float | None = typer.Option(None, "--max-minutes", min=0.0, help=BUDGET_HELP),
) -> None:
    """Train the mask-free editing DiT (X-Dub stage 2) on pseudo-pairs."""
    from xdub.config import replace
    from xdub.config.stage2 import load_stage2
    from xdub.train.stage2 import train_stage2

    cfg = with_loop_overrides(load_stage2(config), steps, max_minutes)
    top = {k: str(v) for k, v in (("pairs", pairs), ("init_from", init_from)) if v is not None}
    cfg = replace(cfg, **top) if top else cfg
    editor = train_stage2(cfg, run_dir)
    if editor is None:
        print(f"stage2: stopped on the time budget; rerun with --run-dir {run_dir} to resume")
    else:
        print(f"stage2: done; dubbing checkpoint in {editor} (xdub dub --checkpoint {editor})")


@train_app.command("chain")
def chain(
    config: Path = typer.Option(..., "--config", help="ChainConfig YAML, e.g. "
                                "configs/train/chain_tiny.yaml."),
    out: Path = typer.Option(..., "--out", help="Chain folder; finished steps are skipped."),
    stop_after: str | None = typer.Option(None, "--stop-after", help="Last step to run."),
) -> None:
    """Codec -> scorer -> occluders -> landmarks -> stage 1 -> phases -> robust decoder -> pairs
    -> stage 2 -> default, resumable."""
    from xdub.config import load, replace
    from xdub.config.chain import ChainConfig
    from xdub.train.chain import run_chain

    cfg = load(ChainConfig, config)
    if stop_after is not None:
        cfg = replace(cfg, stop_after=stop_after)
    status = run_chain(cfg, config.parent, out,
                       report=lambda step, state: print(f"chain {step}: {state}", flush=True))
    finished = all(v in ("done", "skipped") for v in status.values())
    print(f"chain: {'complete' if finished else 'paused'} -> {out}")
