"""The audio lip prior's own training runs, shared by both stages.

A lip prior (`xdub.models.lip_prior`) learns on its direct regression loss before the DiT it
conditions trains: stage 2's editor prior on pairs, stage 1's inpainter prior on the stage-1
windows (self-reconstruction). Each such run is a `loop.run` of its own in a sub-folder
(resumable, EMA, progress, report) whose `final/lip_prior.safetensors` the DiT's run starts
from. Imports: torch, accelerate, xdub.{config, models, train.loop}.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from accelerate import PartialState

from xdub.config.model import LipPriorConfig
from xdub.config.train import LoopConfig
from xdub.models.checkpoint import read_tensors, save_tensors
from xdub.models.lip_prior import LipPrior
from xdub.train import loop

FINAL = "final"
PRIOR_WEIGHTS = "lip_prior.safetensors"


def build_prior(cfg: LipPriorConfig, latent_channels: int, audio_dim: int, seed: int,
                weights: str | Path | None = None) -> LipPrior:
    """A lip prior freshly initialised (seeded, whatever the global RNG) or with `weights`."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        prior = LipPrior(cfg, latent_channels, audio_dim)
    if weights:
        prior.load_state_dict(read_tensors(weights, "lip prior")[0])
    return prior


def final_weights(sub_dir: Path) -> Path:
    """Where a finished prior run keeps its weights."""
    return sub_dir / FINAL / PRIOR_WEIGHTS


def run_prior(loop_cfg: LoopConfig, sub_dir: Path, prior: LipPrior,
              step: Callable[[torch.nn.Module, Any], tuple[torch.Tensor, dict[str, float]]],
              batches: Callable[[int], Iterator[Any]], run_config: Any, title: str,
              state: PartialState) -> str:
    """Train `prior` with `step` in `sub_dir` (nothing if it already finished); "done" when its
    `final/` holds the weights, else why the run stopped ("budget", "interrupted")."""
    if final_weights(sub_dir).is_file():
        return "done"
    result = loop.run(loop_cfg, sub_dir, prior, step, batches, run_config=run_config, title=title)
    if result.stopped != "done":
        return result.stopped
    if state.is_main_process:
        loop.load_final_weights(prior, sub_dir)
        final_weights(sub_dir).parent.mkdir(parents=True, exist_ok=True)
        save_tensors(final_weights(sub_dir), prior.state_dict())
    state.wait_for_everyone()  # the DiT's run loads these weights on every process
    return "done"
