"""Engine clips by scenario for the small per-frame recipes (the occluder segmenter, the landmark
refiner): which seeds each scenario's training and held-out clips use, and the clips themselves.

Scenario k's clip i is seed `first_seed + k * SEEDS_PER_SCENARIO + i`; its held-out clips start
`VAL_OFFSET` further, so they are never trained on. A recipe config needs `scenarios`, `clips`
(one count per scenario), `val_clips`, `first_seed`, `size` and `clip_seconds`.
Imports: xdub.{config, data} (the engine, imported when clips are loaded).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from xdub.config.train import SynthSourceConfig

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
