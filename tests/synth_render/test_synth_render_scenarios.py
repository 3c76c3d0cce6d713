"""Every scenario renders, and each one does what its name says."""

import numpy as np
import pytest

from xdub.config import load, replace
from xdub.config.synth import SCENARIOS, SynthConfig
from xdub.config.synth_speech import SPEECH_PRESETS
from xdub.synth.clip import render_clip
from xdub.synth.scenarios import get_scenario, resolve_scenario
from xdub.errors import ConfigError

REQUIRED = ("standard", "occlusion", "stylized", "nonhuman", "lighting", "fast_motion", "long",
            "singing", "mixed")


def _cfg(name: str, **changes):
    return replace(SCENARIOS[name], **{"size": (96, 96), "duration": 2.0, **changes})


@pytest.mark.parametrize("name", REQUIRED)
def test_each_scenario_renders(name):
    cfg = SCENARIOS[name]
    assert cfg.speech_preset in SPEECH_PRESETS
    clip = render_clip(11, _cfg(name, duration=0.4))
    t = clip.frames.shape[0]
    assert clip.frames.shape == (10, 96, 96, 3) and clip.frames.dtype == np.uint8
    assert clip.audio.sample_rate == 16000 and len(clip.audio.samples) == 6400
    assert clip.truth.landmarks.shape == (t, 68, 2) and clip.truth.mouth_params.shape == (t, 5)
    assert clip.truth.mouth_mask.shape == (t, 96, 96) and clip.truth.mouth_mask.any()
    assert clip.frames.std() > 5  # not a blank frame
    if name == "mixed":
        assert clip.meta["preset"] == "mixed" and clip.meta["scenario"] in cfg.mixed_pool
    else:
        assert clip.meta["scenario"] == name


def test_long_is_at_least_a_minute_and_singing_uses_the_singing_voice():
    assert SCENARIOS["long"].duration >= 60
    assert SCENARIOS["singing"].speech_preset == "singing"
    assert SCENARIOS["nonhuman"].character.kinds and "human" not in SCENARIOS[
        "nonhuman"].character.kinds


def test_occlusion_covers_the_lower_face_in_some_frames():
    for seed in range(3):
        clip = render_clip(seed, _cfg("occlusion"))
        overlap = (clip.truth.occluder_mask & clip.truth.mouth_mask).sum(axis=(1, 2))
        assert (overlap > 0).sum() >= 3, seed
        assert (overlap == 0).sum() >= 1  # and it is not there all the time
    plain = render_clip(0, _cfg("standard"))
    assert not plain.truth.occluder_mask.any()


def test_lighting_scenario_changes_brightness_over_time():
    spread = {}
    for name in ("standard", "lighting"):
        stds = [render_clip(s, _cfg(name, duration=3.0, size=(48, 48))).frames.mean(
            axis=(1, 2, 3)).std() for s in range(3)]
        spread[name] = float(np.mean(stds))
    assert spread["lighting"] > 3.0
    assert spread["lighting"] > 2.5 * spread["standard"]


def _motion(clip) -> float:
    centre = clip.truth.landmarks.mean(axis=1)
    return float(np.abs(np.diff(centre, axis=0)).sum(axis=1).mean())


def test_fast_motion_moves_more_than_standard():
    fast = np.mean([_motion(render_clip(s, _cfg("fast_motion"))) for s in range(3)])
    slow = np.mean([_motion(render_clip(s, _cfg("standard"))) for s in range(3)])
    assert fast > 2.5 * slow


@pytest.mark.parametrize("size", [(160, 96), (96, 160)])
def test_non_square_sizes(size):
    clip = render_clip(4, _cfg("standard", size=size, duration=0.4, fps=29.97))
    w, h = size
    assert clip.frames.shape == (12, h, w, 3)
    box = clip.truth.face_box
    assert np.all(box[:, 0] >= -1) and np.all(box[:, 2] <= w + 1)
    assert np.all(box[:, 1] >= -1) and np.all(box[:, 3] <= h + 1)
    face_h = (box[:, 3] - box[:, 1]).mean() / min(w, h)
    assert 0.3 < face_h < 0.65  # face fraction is of the short side


def test_mixed_pick_keeps_size_and_unknown_names_raise():
    cfg = replace(SCENARIOS["mixed"], size=(64, 48))
    picked = resolve_scenario(cfg, np.random.default_rng(0))
    assert picked.size == (64, 48) and picked.scenario in cfg.mixed_pool
    with pytest.raises(ConfigError):
        get_scenario("nope")
    with pytest.raises(ConfigError):
        replace(SCENARIOS["standard"], size=(8, 8))


def test_yaml_configs_load_and_standard_matches_registry(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "configs" / "synth"
    files = sorted(root.glob("*.yaml"))
    assert files
    for f in files:
        assert isinstance(load(SynthConfig, f), SynthConfig)
    assert load(SynthConfig, root / "standard.yaml") == SCENARIOS["standard"]
