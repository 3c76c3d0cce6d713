"""Config mechanism: strict dict/YAML round-trips, base-file merging, type checks."""

from dataclasses import dataclass, field

import pytest

from xdub import config
from xdub.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    size: int = 32
    scale: float = 1.0


@dataclass(frozen=True)
class Outer:
    name: str = "tiny"
    inner: Inner = field(default_factory=Inner)
    steps: tuple[int, ...] = (1, 2)
    kind: str | None = None


def test_yaml_round_trip(tmp_path):
    cfg = Outer(name="x", inner=Inner(size=64, scale=0.5), steps=(3, 4, 5))
    config.save(cfg, tmp_path / "c.yaml")
    assert config.load(Outer, tmp_path / "c.yaml") == cfg


def test_unknown_key_and_wrong_type_raise():
    with pytest.raises(ConfigError, match="unknown key"):
        config.from_dict(Outer, {"nme": "x"})
    with pytest.raises(ConfigError, match="expected an integer"):
        config.from_dict(Outer, {"inner": {"size": "big"}})


def test_base_chain_overrides_only_named_keys(tmp_path):
    (tmp_path / "base.yaml").write_text("name: a\ninner: {size: 8, scale: 2.0}\n")
    (tmp_path / "child.yaml").write_text("base: base.yaml\ninner: {size: 16}\n")
    cfg = config.load(Outer, tmp_path / "child.yaml")
    assert cfg.name == "a" and cfg.inner == Inner(size=16, scale=2.0)


def test_int_accepted_as_float_and_replace_checks():
    assert config.from_dict(Inner, {"scale": 2}).scale == 2.0
    with pytest.raises(ConfigError):
        config.replace(Inner(), size=1.5)


@dataclass(frozen=True)
class Pair:
    size: tuple[int, float] = (1, 2.0)


def test_fixed_length_tuple_checks_each_item_against_its_own_type():
    assert config.from_dict(Pair, {"size": [3, 4]}).size == (3, 4.0)
    with pytest.raises(ConfigError, match="expected an integer"):
        config.from_dict(Pair, {"size": [3.5, 4]})


def test_retired_keys_of_deleted_fields_still_load():
    """Files written before `loss_weighting` / `lip_mouth_weight` were deleted still load;
    other unknown keys still raise."""
    from xdub.config.diffusion import DiffusionConfig

    old = {**config.to_dict(DiffusionConfig()), "loss_weighting": "none", "lip_mouth_weight": 2.0}
    assert config.from_dict(DiffusionConfig, old) == DiffusionConfig()
    with pytest.raises(ConfigError, match="unknown key"):
        config.from_dict(DiffusionConfig, {"loss_weightin": "none"})
