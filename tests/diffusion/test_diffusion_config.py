"""DiffusionConfig: presets, YAML instances, official defaults, validation."""

from pathlib import Path

import pytest

from xdub import config
from xdub.config.diffusion import DIFFUSION_PRESETS, DiffusionConfig
from xdub.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "diffusion"


@pytest.mark.parametrize("name", sorted(DIFFUSION_PRESETS))
def test_yaml_instances_equal_presets(name):
    assert config.load(DiffusionConfig, CONFIG_DIR / f"{name}.yaml") == DIFFUSION_PRESETS[name]


def test_wan5b_carries_official_inference_defaults():
    cfg = DIFFUSION_PRESETS["wan5b"]
    assert (cfg.shift, cfg.num_inference_steps, cfg.num_train_timesteps) == (5.0, 50, 1000)
    assert (cfg.ref_scale, cfg.audio_scale, cfg.guidance_schedule) == (2.5, 10.0, "dynamic")
    assert cfg.border_latents == 1  # the released inference script pins a 1-latent ring


def test_round_trip_and_validation(tmp_path):
    cfg = DIFFUSION_PRESETS["tiny"]
    config.save(cfg, tmp_path / "d.yaml")
    assert config.load(DiffusionConfig, tmp_path / "d.yaml") == cfg
    with pytest.raises(ConfigError):
        config.replace(cfg, lip_texture_sigma=0.9)
    with pytest.raises(ConfigError):
        config.replace(cfg, p_drop_audio=0.99)
    with pytest.raises(ConfigError):
        config.replace(cfg, border_latents=-1)
    with pytest.raises(ConfigError):
        config.replace(cfg, guidance_schedule="cosine")
