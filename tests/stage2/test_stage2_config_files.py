"""The shipped stage-2 YAML presets load against Stage2Config (their `base:` chain is stage 1)."""

from pathlib import Path

import pytest

from xdub.config.stage2 import load_stage2

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("stage2_*.yaml")), ids=lambda p: p.name)
def test_stage2_yaml_loads(path):
    cfg = load_stage2(path)  # stage-1 only keys (its loss weights) inherited via base: drop
    assert cfg.model.cond_channels is None or cfg.model.cond_channels > 0
