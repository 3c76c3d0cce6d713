"""save_pretrained/from_pretrained round trip and gradient checkpointing equivalence."""

from __future__ import annotations

import json

import pytest
import torch
from models_testkit import micro_config, random_inputs

from xdub.errors import WeightsError
from xdub.models import XDubDiT, attach_lora, build_dit


def test_save_then_load_gives_identical_outputs(tmp_path):
    config = micro_config()
    model = build_dit(config, seed=0).eval()
    model.set_null_context(torch.randn(config.null_context_len, config.text_dim))
    attach_lora(model, ["lip"], rank=2)  # adapters are not part of the base checkpoint
    noisy, t, cond = random_inputs(config, motion_frames=1, ref_frames=1)
    model.save_pretrained(tmp_path / "ckpt")
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text())["dim"] == config.dim
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "config.json", "model.safetensors", "null_context.safetensors"
    ]
    loaded = XDubDiT.from_pretrained(tmp_path / "ckpt").eval()
    assert loaded.config == config
    assert torch.equal(loaded(noisy, t, cond), model(noisy, t, cond))


def test_from_pretrained_missing_dir_is_a_weights_error(tmp_path):
    with pytest.raises(WeightsError, match="config.json"):
        XDubDiT.from_pretrained(tmp_path / "nothing")


def test_from_pretrained_casts_dtype(tmp_path):
    build_dit(micro_config(), seed=0).save_pretrained(tmp_path)
    model = XDubDiT.from_pretrained(tmp_path, dtype=torch.bfloat16)
    assert model.dtype == torch.bfloat16 and model.null_context.dtype == torch.bfloat16


def test_gradient_checkpointing_gives_the_same_gradients():
    config = micro_config()
    noisy, t, cond = random_inputs(config, motion_frames=1)
    grads = []
    for checkpointed in (False, True):
        model = build_dit(config, seed=0).train()
        model.enable_gradient_checkpointing(checkpointed)
        model(noisy, t, cond).square().mean().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    plain, ckpt = grads
    assert plain.keys() == ckpt.keys()
    for name in plain:
        assert torch.allclose(plain[name], ckpt[name], atol=1e-7), name
