"""LoRA: several named adapters on one base, switching, save/load, merge/unmerge equality."""

from __future__ import annotations

import pytest
import torch
from models_testkit import micro_config, random_inputs

from xdub.errors import WeightsError
from xdub.models import (
    attach_lora,
    build_dit,
    load_lora,
    lora_parameters,
    merge_lora,
    save_lora,
    set_active_adapter,
    unmerge_lora,
)

PHASES = ["structure", "lip", "texture"]


def _randomise(model, name, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in lora_parameters(model, name):
            p.copy_(torch.randn(p.shape, generator=gen) * 0.05)


def _model_with_adapters():
    config = micro_config()
    model = build_dit(config, seed=0).eval()
    paths = attach_lora(model, PHASES, rank=4, alpha=8)
    for i, name in enumerate(PHASES):
        _randomise(model, name, seed=i)
    return model, paths, random_inputs(config, motion_frames=1)


def test_attach_targets_attention_ffn_and_audio_and_keeps_base_keys():
    model, paths, _ = _model_with_adapters()
    assert "blocks.0.self_attn.q" in paths and "blocks.1.ffn.2" in paths
    assert "blocks.0.audio_attn.o" in paths and "blocks.0.cross_attn.q" not in paths
    assert len(paths) == 2 * (4 + 2 + 4)
    base = build_dit(model.config, device="meta").state_dict().keys()
    assert model.base_state_dict().keys() == base


def test_adapters_switch_and_start_as_no_op():
    model, _, (noisy, t, cond) = _model_with_adapters()
    set_active_adapter(model, None)
    base = model(noisy, t, cond)
    outs = {}
    for name in PHASES:
        set_active_adapter(model, name)
        outs[name] = model(noisy, t, cond)
        assert not torch.allclose(outs[name], base, atol=1e-4)
    assert not torch.allclose(outs["lip"], outs["texture"], atol=1e-4)
    attach_lora(model, ["fresh"], rank=2)  # zero-initialised up-projection
    set_active_adapter(model, "fresh")
    assert torch.allclose(model(noisy, t, cond), base, atol=1e-6)
    with pytest.raises(ValueError):
        set_active_adapter(model, "missing")


def test_merge_equals_active_adapter_and_unmerge_restores_base():
    model, _, (noisy, t, cond) = _model_with_adapters()
    set_active_adapter(model, None)
    base = model(noisy, t, cond)
    set_active_adapter(model, "lip")
    active = model(noisy, t, cond)
    merge_lora(model, "lip")
    merged_active = model(noisy, t, cond)  # the merged adapter is not added twice
    set_active_adapter(model, None)
    merged_plain = model(noisy, t, cond)
    assert (merged_plain - active).abs().max() < 1e-5
    assert (merged_active - active).abs().max() < 1e-5
    unmerge_lora(model)
    assert (model(noisy, t, cond) - base).abs().max() < 1e-5


def test_save_and_load_adapter_into_a_fresh_model(tmp_path):
    model, _, (noisy, t, cond) = _model_with_adapters()
    set_active_adapter(model, "texture")
    expected = model(noisy, t, cond)
    save_lora(model, "texture", tmp_path / "texture.safetensors")
    fresh = build_dit(model.config, seed=0).eval()
    load_lora(fresh, "texture", tmp_path / "texture.safetensors")
    set_active_adapter(fresh, "texture")
    assert torch.allclose(fresh(noisy, t, cond), expected, atol=1e-6)
    with pytest.raises(WeightsError, match="not found"):
        load_lora(fresh, "lip", tmp_path / "none.safetensors")


def test_only_adapter_parameters_train():
    model, _, (noisy, t, cond) = _model_with_adapters()
    model.requires_grad_(False)
    params = lora_parameters(model, "lip")
    for p in params:
        p.requires_grad_(True)
    set_active_adapter(model, "lip")
    model(noisy, t, cond).square().mean().backward()
    assert all(p.grad is not None for p in params)
    assert lora_parameters(model, "texture")[0].grad is None
    assert model.blocks[0].self_attn.q.weight.grad is None
