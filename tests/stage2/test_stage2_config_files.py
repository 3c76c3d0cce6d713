"""The shipped stage-2 YAML presets load against Stage2Config (their `base:` chain is stage 1)."""

from pathlib import Path

import pytest

from xdub import config
from xdub.config.stage2 import Stage2Config

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("stage2_*.yaml")), ids=lambda p: p.name)
def test_stage2_yaml_loads(path):
    cfg = config.load(Stage2Config, path)
    assert cfg.model.cond_channels is None or cfg.model.cond_channels > 0
