"""Face configs: presets, YAML instances, strict loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from xdub.config import from_dict, load, save, to_dict
from xdub.config.face import FACE_PRESETS, FaceConfig
from xdub.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "face"


def test_face_presets_round_trip_yaml(tmp_path):
    for name, cfg in FACE_PRESETS.items():
        save(cfg, tmp_path / f"{name}.yaml")
        assert load(FaceConfig, tmp_path / f"{name}.yaml") == cfg
    assert FACE_PRESETS["wan5b"].align.crop_size == 512
    assert FACE_PRESETS["tiny"].align.crop_size < 128


def test_face_yaml_instances_match_presets():
    assert load(FaceConfig, CONFIGS / "default.yaml") == FACE_PRESETS["wan5b"]
    assert load(FaceConfig, CONFIGS / "tiny.yaml") == FACE_PRESETS["tiny"]


def test_face_config_rejects_unknown_keys_and_bad_choices():
    data = to_dict(FaceConfig())
    data["track"]["max_gapp"] = 3
    with pytest.raises(ConfigError, match="max_gapp"):
        from_dict(FaceConfig, data)
    with pytest.raises(ConfigError, match="lower_face"):
        from_dict(FaceConfig, {"blend": {"region": "everything"}})
