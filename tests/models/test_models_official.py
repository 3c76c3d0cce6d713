"""Compatibility with the official X-Dub checkpoint: key names/shapes and the loader's errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from models_testkit import micro_config
from safetensors.torch import save_file

from xdub.errors import WeightsError
from xdub.models import build_dit, load_official_dit
from xdub.models.dit import build_on_meta, load_weights
from xdub.models.official import OFFICIAL_FILENAME, _fill_position_tables

FIXTURE = Path(__file__).parent / "fixtures" / "official_wan5b_keys.json"


def test_state_dict_keys_and_shapes_equal_the_official_model():
    official = json.loads(FIXTURE.read_text())["keys"]
    ours = {k: list(v.shape) for k, v in build_dit("wan5b", device="meta").state_dict().items()}
    assert len(official) == 1245
    assert sorted(set(official) - set(ours)) == []
    assert sorted(set(ours) - set(official)) == []
    assert [k for k in official if official[k] != ours[k]] == []


def test_missing_official_file_names_the_download(tmp_path):
    with pytest.raises(WeightsError, match="KlingTeam/X-Dub") as err:
        load_official_dit(tmp_path)
    assert OFFICIAL_FILENAME in str(err.value)


def test_corrupt_official_file_is_a_weights_error(tmp_path):
    (tmp_path / OFFICIAL_FILENAME).write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError, match="cannot read"):
        load_official_dit(tmp_path)


def test_strict_loading_reports_missing_and_wrong_shapes():
    config = micro_config()
    state = build_dit(config, seed=0).state_dict()
    partial = {k: v for k, v in state.items() if not k.startswith("head.")}
    with pytest.raises(WeightsError, match="missing"):
        load_weights(build_on_meta(config), partial, dtype=None, where="x")
    wrong = dict(state)
    wrong["head.head.bias"] = torch.zeros(3)
    with pytest.raises(WeightsError, match="shape"):
        load_weights(build_on_meta(config), wrong, dtype=None, where="x")


def test_meta_load_assigns_weights_and_casts_dtype(tmp_path):
    config = micro_config()
    source = build_dit(config, seed=0)
    state = {k: v.clone() for k, v in source.state_dict().items()}
    # files that lack the deterministic audio position tables still load
    state = {k: v for k, v in state.items() if not k.endswith("pos_embed.pe")}
    model = build_on_meta(config)
    _fill_position_tables(model, state, torch.device("cpu"))
    load_weights(model, state, dtype=torch.bfloat16, where="x")
    assert model.blocks[0].self_attn.q.weight.dtype == torch.bfloat16
    assert not any(t.is_meta for t in [*model.parameters(), *model.buffers()])
    pe = model.audio_embedding.layers[0].pos_embed.pe
    assert torch.equal(pe, source.audio_embedding.layers[0].pos_embed.pe.bfloat16())


def test_official_loader_end_to_end_on_a_file(tmp_path, monkeypatch):
    # the real file is 12.6 GB: check the loader's path with the micro model standing in for wan5b
    import xdub.models.official as official

    config = micro_config()
    source = build_dit(config, seed=0)
    save_file(source.state_dict(), str(tmp_path / OFFICIAL_FILENAME))
    save_file({"ctx": torch.ones(config.null_context_len, config.text_dim)}, str(tmp_path / "n.st"))
    monkeypatch.setitem(official.MODEL_PRESETS, "wan5b", config)
    model = load_official_dit(tmp_path, dtype=None, null_context=tmp_path / "n.st")
    assert torch.equal(model.head.head.weight, source.head.head.weight)
    assert torch.equal(model.null_context, torch.ones(1, config.null_context_len, config.text_dim))
    assert not model.training
