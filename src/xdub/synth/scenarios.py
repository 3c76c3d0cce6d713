"""Scenario lookup: names -> frozen `SynthConfig`s, and the per-clip pick of `mixed`.

The registry itself lives in `xdub.config.synth.SCENARIOS` (configs are data); this module
adds the lookups the renderer and CLI need. Imports: numpy, xdub.config, xdub.errors.
"""

from __future__ import annotations

import numpy as np

from xdub.config import replace
from xdub.config.synth import SCENARIOS, SynthConfig
from xdub.errors import ConfigError


def scenario_names() -> tuple[str, ...]:
    """Registered scenario names, in registry order (CLI choices)."""
    return tuple(SCENARIOS)


def get_scenario(name: str) -> SynthConfig:
    """The frozen config registered under `name`; ConfigError lists the choices otherwise."""
    if name not in SCENARIOS:
        raise ConfigError(f"unknown scenario '{name}'; choose from {', '.join(SCENARIOS)}")
    return SCENARIOS[name]


def resolve_scenario(cfg: SynthConfig, rng: np.random.Generator) -> SynthConfig:
    """The concrete config of one clip: `cfg` itself, or a random pick from `cfg.mixed_pool`.

    A pick keeps the caller's size, fps and duration (those describe the dataset, not the
    scenario), so `mixed` at 512x512 yields 512x512 clips of every kind.
    """
    if not cfg.mixed_pool:
        return cfg
    name = cfg.mixed_pool[int(rng.integers(len(cfg.mixed_pool)))]
    picked = get_scenario(name)
    if picked.mixed_pool:
        raise ConfigError(f"mixed_pool entry '{name}' is itself a mixed scenario")
    return replace(picked, size=cfg.size, fps=cfg.fps, duration=cfg.duration)
