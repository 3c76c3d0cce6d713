"""What the small per-frame recipes (the occluder segmenter, the landmark refiner) share: which
engine seeds each scenario's training and held-out clips use, the clips themselves, and the run
from training to a `final/` folder with held-out figures (`train_to_final`).

Scenario k's clip i is seed `first_seed + k * SEEDS_PER_SCENARIO + i`; its held-out clips start
`VAL_OFFSET` further, so they are never trained on. A recipe config needs `scenarios`, `clips`
(one count per scenario), `val_clips`, `first_seed`, `size` and `clip_seconds`.
Imports: torch, xdub.{atomic, config, train, data} (the engine, imported when clips are loaded).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from torch import nn

from xdub.atomic import write_text_atomic
from xdub.config.train import LoopConfig, SynthSourceConfig
from xdub.train import loop
from xdub.train.report import Panel

log = logging.getLogger(__name__)
M = TypeVar("M", bound=nn.Module)

SEEDS_PER_SCENARIO = 100_000  # scenario k's clip i: first_seed + k * this + i
VAL_OFFSET = 50_000  # held-out clips start here within a scenario's seed block


class ScenarioClips(Protocol):
    """The fields of a recipe config that say which engine clips it uses."""

    scenarios: tuple[str, ...]
    clips: tuple[int, ...]
    val_clips: int
    first_seed: int
    size: tuple[int, int]
    clip_seconds: float


def scenario_seeds(cfg: ScenarioClips, k: int, held_out: bool) -> list[int]:
    """Engine seeds of scenario k's training clips, or of its held-out clips."""
    first = cfg.first_seed + k * SEEDS_PER_SCENARIO + (VAL_OFFSET if held_out else 0)
    return list(range(first, first + (cfg.val_clips if held_out else cfg.clips[k])))


def clip_jobs(cfg: ScenarioClips, held_out: bool) -> list[tuple[Any, int]]:
    """(source, index) of every training (or held-out) clip of every scenario, in order;
    `source.load(index)` renders the clip as a `ClipRecord`."""
    from xdub.data.sources import SynthClipSource  # the engine: heavy import, training only

    sources = [SynthClipSource(SynthSourceConfig(scenario=name, size=cfg.size,
                                                 clip_seconds=cfg.clip_seconds),
                               seeds=scenario_seeds(cfg, k, held_out))
               for k, name in enumerate(cfg.scenarios)]
    return [(source, i) for source in sources for i in range(len(source))]


def iter_records(jobs: list[tuple[Any, int]]) -> Iterator[Any]:
    """The clips of `clip_jobs`, rendered one after the other."""
    for source, i in jobs:
        yield source.load(i)


def train_to_final(loop_cfg: LoopConfig, run_dir: Path, net: M, step: Callable, batches: partial,
                   run_config: Any, title: str, panels: tuple[Panel, ...],
                   held_out: Callable[[M], dict] | None) -> M:
    """Train `net` with the one loop (resuming from `run_dir/checkpoints`), write its EMA weights
    to `run_dir/final/` and, with `held_out`, its figures to `final/metrics.json`; return it in
    eval mode."""
    result = loop.run(loop_cfg, run_dir, net, step, batches, run_config=run_config, title=title,
                      panels=panels)
    if result.stopped == "budget":
        log.warning("time budget of %.1f min spent at step %d", loop_cfg.max_minutes, result.step)
    net = loop.load_final_weights(net, run_dir).eval()
    final = run_dir / "final"
    net.save_pretrained(final)
    if held_out is not None:
        figures = held_out(net)
        write_text_atomic(final / "metrics.json", json.dumps(figures, indent=2) + "\n")
        log.info("held out: %s", figures)
    return net
