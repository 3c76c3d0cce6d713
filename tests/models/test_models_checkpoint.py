"""xdub.models.checkpoint: the one folder format (config.json + model.safetensors) of every
saved component, and its one-line errors."""

import pytest
import torch

from xdub.config.sync import SyncScorerConfig
from xdub.errors import WeightsError
from xdub.models.checkpoint import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    load_folder,
    read_tensors,
    save_folder,
    save_tensors,
)


def test_folder_round_trip_is_exact(tmp_path):
    cfg = SyncScorerConfig(embed_dim=16)
    state = {"a": torch.randn(3, 4), "b": torch.arange(5)}
    extra = {"extra.safetensors": {"c": torch.ones(2)}}
    save_folder(tmp_path / "m", cfg, state, extra)
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == sorted(
        [CONFIG_NAME, WEIGHTS_NAME, "extra.safetensors"])
    loaded_cfg, loaded = load_folder(tmp_path / "m", SyncScorerConfig, "scorer")
    assert loaded_cfg == cfg and loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_metadata_travels_with_a_tensor_file(tmp_path):
    save_tensors(tmp_path / "x.safetensors", {"w": torch.zeros(2)}, metadata={"rank": "4"})
    tensors, meta = read_tensors(tmp_path / "x.safetensors", "LoRA")
    assert meta == {"rank": "4"} and tensors["w"].shape == (2,)


def test_incomplete_or_corrupt_folders_are_weights_errors(tmp_path):
    save_folder(tmp_path / "m", SyncScorerConfig(), {"a": torch.ones(1)})
    (tmp_path / "m" / WEIGHTS_NAME).write_bytes(b"not safetensors")
    with pytest.raises(WeightsError, match="unreadable scorer weights"):
        load_folder(tmp_path / "m", SyncScorerConfig, "scorer")
    (tmp_path / "m" / WEIGHTS_NAME).unlink()
    with pytest.raises(WeightsError, match="incomplete"):
        load_folder(tmp_path / "m", SyncScorerConfig, "scorer")
