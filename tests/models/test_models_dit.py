"""XDubDiT forward/backward shapes, dtypes, presets and input handling."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from models_testkit import micro_config, random_inputs

from xdub.config import from_dict, load, to_dict
from xdub.config.model import MODEL_PRESETS, DiTConfig
from xdub.errors import ConfigError
from xdub.models import DiTConditioning, build_dit, count_parameters

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "model"


@pytest.mark.parametrize("preset, size", [("tiny", 8), ("small", 4)])
def test_forward_backward_shapes(preset, size):
    model = build_dit(preset, seed=0)
    noisy, t, cond = random_inputs(model.config, batch=2, frames=2, size=size, motion_frames=1)
    out = model(noisy, t, cond)
    assert out.shape == noisy.shape
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads), "every parameter must receive a gradient"
    assert model.audio_embedding.proj_in.weight.grad.abs().sum() > 0


def test_identity_refs_and_own_cond_embedding():
    config = micro_config(cond_channels=6)  # e.g. masked latents (4) + 2 mask channels
    model = build_dit(config, seed=0)
    noisy, t, cond = random_inputs(config, ref_frames=2)
    assert cond.source_latents.shape[1] == 6
    out = model(noisy, t, cond)
    assert out.shape == noisy.shape
    assert "cond_embedding.weight" in model.state_dict()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_forward(dtype):
    config = micro_config()
    model = build_dit(config, seed=0)
    noisy, t, cond = random_inputs(config)
    reference = model(noisy, t, cond)
    out = model.to(dtype)(noisy.to(dtype), t, cond)
    assert out.dtype == dtype and torch.isfinite(out).all()
    assert (out.float() - reference).abs().max() < 0.1 * reference.abs().max()


def test_wan5b_on_meta_matches_release_size():
    model = build_dit("wan5b", device="meta")
    assert count_parameters(model) == 6_291_936_960  # 6.29 B: Wan2.2-5B + 30 audio attentions
    assert model.patch_embedding.weight.shape == (3072, 48, 1, 2, 2)
    assert model.head.head.weight.shape == (48 * 4, 3072)
    assert model.blocks[29].audio_attn is not None and len(model.blocks) == 30
    assert model.audio_embedding.proj_in.weight.shape == (1536, 2048)


def test_parameter_counts_of_small_presets():
    tiny = count_parameters(build_dit("tiny", device="meta"))
    small = count_parameters(build_dit("small", device="meta"))
    assert 1e6 < tiny < 5e6 and tiny < small < 1e8


def test_null_context_is_used_when_context_is_none():
    config = micro_config()
    model = build_dit(config, seed=0).eval()
    noisy, t, cond = random_inputs(config)
    null = torch.randn(config.null_context_len, config.text_dim)
    model.set_null_context(null)
    implicit = model(noisy, t, cond)
    cond.context = null[None]
    explicit = model(noisy, t, cond)
    cond.context = torch.randn(2, 5, config.text_dim)
    other = model(noisy, t, cond)
    assert torch.allclose(implicit, explicit, atol=1e-6)
    assert not torch.allclose(implicit, other, atol=1e-4)


def test_conditioning_concat_batches_streams():
    config = micro_config()
    model = build_dit(config, seed=0).eval()
    noisy, t, cond = random_inputs(config, batch=1, motion_frames=1)
    null_cond = DiTConditioning(
        source_latents=torch.zeros_like(cond.source_latents),
        motion_latents=cond.motion_latents,
        audio_features=torch.zeros_like(cond.audio_features),
    )
    merged = DiTConditioning.concat([null_cond, cond])
    batched = model(noisy.expand(2, -1, -1, -1, -1), t.expand(2), merged)
    one_by_one = torch.cat([model(noisy, t, null_cond), model(noisy, t, cond)])
    assert torch.allclose(batched, one_by_one, atol=1e-5)


def test_config_validation_and_yaml_round_trip(tmp_path):
    DiTConfig(dim=96, num_heads=1)  # head_dim 96 splits into RoPE parts 32/32/32
    with pytest.raises(ConfigError, match="head_dim 64"):
        DiTConfig(dim=128, num_heads=2)  # 64 = 22 + 21 + 21: odd spatial parts
    with pytest.raises(ConfigError):
        DiTConfig(num_layers=2, audio_layers=(5,))
    with pytest.raises(ConfigError):
        from_dict(DiTConfig, {"dims": 3})
    for name in ("tiny", "small", "wan5b"):
        assert load(DiTConfig, CONFIG_DIR / f"{name}.yaml") == MODEL_PRESETS[name]
    assert from_dict(DiTConfig, to_dict(MODEL_PRESETS["wan5b"])) == MODEL_PRESETS["wan5b"]


def test_unknown_preset_is_a_config_error():
    with pytest.raises(ConfigError, match="tiny"):
        build_dit("huge")


def test_constant_inputs_reuse_context_and_rope_with_identical_outputs():
    from xdub.models.lora import attach_lora

    config = micro_config()
    model = build_dit(config, seed=0).eval()
    model.set_null_context(torch.randn(config.null_context_len, config.text_dim))
    noisy, t, cond = random_inputs(config, batch=3, motion_frames=1)
    with torch.no_grad():
        plain = model(noisy, t, cond)
        with model.constant_inputs():
            assert len(model._constants["context"]) == config.num_layers
            first, second = model(noisy, t, cond), model(noisy, t, cond)
            assert len(model._constants["rope"]) == 1
    assert model._constants is None
    torch.testing.assert_close(first, plain, rtol=0, atol=0)
    torch.testing.assert_close(second, plain, rtol=0, atol=0)
    # an adapter on the cross-attention could be switched mid-sampling: nothing is cached
    attach_lora(model, ["x"], rank=2, alpha=2.0, targets=["blocks.*.cross_attn.k"])
    with model.constant_inputs():
        assert "context" not in model._constants
