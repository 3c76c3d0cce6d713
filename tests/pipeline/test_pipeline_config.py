"""Inference configs: YAML instances load, round-trip, and reject bad values."""

from pathlib import Path

import pytest

from xdub.config import from_dict, load, save, to_dict
from xdub.config.infer import DUBBER_PRESETS, DubberConfig, InferConfig, SamplingConfig
from xdub.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "infer"


@pytest.mark.parametrize("name", ["default", "preview", "redub_range"])
def test_yaml_instances_load_and_round_trip(tmp_path, name):
    cfg = load(InferConfig, CONFIGS / f"{name}.yaml")
    save(cfg, tmp_path / "again.yaml")
    assert load(InferConfig, tmp_path / "again.yaml") == cfg
    if name == "default":
        assert cfg == InferConfig()  # the YAML documents the real defaults


def test_dubber_presets_round_trip_as_json_dicts():
    for spec in DUBBER_PRESETS.values():
        assert from_dict(DubberConfig, to_dict(spec)) == spec
    assert DUBBER_PRESETS["wan5b"].crop_size == 512 and DUBBER_PRESETS["wan5b"].motion_frames == 5


def test_bad_values_raise():
    with pytest.raises(ConfigError):
        from_dict(InferConfig, {"timeline": {"length": "forever"}})
    with pytest.raises(ConfigError):
        from_dict(InferConfig, {"unknown_key": 1})
    with pytest.raises(ConfigError, match="half of chunk_frames"):
        SamplingConfig(chunk_frames=8, overlap=5)
    with pytest.raises(ConfigError, match="motion_frames"):
        DubberConfig(overlap=1, motion_frames=3)
