"""Aligned source fusion wrapper: starts as the plain DiT, routes the source, round-trips."""

from __future__ import annotations

import torch

from xdub.config import replace
from xdub.config.model import MODEL_PRESETS
from xdub.models import DiTConditioning, build_dit
from xdub.models.fusion import FUSION_NAME, SourceFusedDiT, load_dit

CFG = replace(MODEL_PRESETS["tiny"], latent_channels=4, cond_channels=5, dim=24, num_layers=1,
              num_heads=2, ffn_dim=48, freq_dim=16, audio_dim=8, audio_proj_dim=16,
              audio_proj_heads=2)


def _inputs(refs: bool, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    cond = DiTConditioning(
        source_latents=torch.randn(2, 5, 3, 8, 8, generator=g),
        ref_latents=torch.randn(2, 4, 1, 8, 8, generator=g) if refs else None,
        audio_features=torch.randn(2, 3, 4, 8, generator=g))
    return torch.randn(2, 4, 3, 8, 8, generator=g), torch.tensor([300.0, 700.0]), cond


def test_zero_fusion_equals_plain_dit_and_trained_fusion_reads_the_source(tmp_path):
    dit = build_dit(CFG, seed=0).eval()
    fused = SourceFusedDiT(dit).eval()
    for refs in (False, True):
        x, t, cond = _inputs(refs)
        with torch.no_grad():
            torch.testing.assert_close(fused(x, t, cond), dit(x, t, cond))
    torch.nn.init.normal_(fused.fuse.weight, std=0.5)
    x, t, cond = _inputs(True)
    other = DiTConditioning(**{**cond.__dict__, "source_latents": cond.source_latents * 2})
    with torch.no_grad():
        assert not torch.allclose(fused(x, t, cond), dit(x, t, cond))
        base_gap = (dit(x, t, cond) - dit(x, t, other)).abs().mean()
        fused_gap = (fused(x, t, cond) - fused(x, t, other)).abs().mean()
    assert fused_gap > base_gap  # the source now also reaches the target tokens directly
    fused.save_pretrained(tmp_path)
    assert (tmp_path / FUSION_NAME).is_file()
    loaded = load_dit(tmp_path).eval()
    assert isinstance(loaded, SourceFusedDiT)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, t, cond), fused(x, t, cond))
    assert not fused.dit._forward_hooks and not fused.dit.patch_embedding._forward_hooks


def test_residual_output_copies_the_source_with_a_zero_head_and_round_trips(tmp_path):
    """x0 = source + output: a zero head samples the source exactly; the flag survives I/O."""
    from xdub.diffusion import sample, sigma_to_timestep, sigmas_for_sampling

    dit = build_dit(replace(CFG, cond_channels=4), seed=0).eval()
    torch.nn.init.zeros_(dit.head.head.weight)
    torch.nn.init.zeros_(dit.head.head.bias)
    fused = SourceFusedDiT(dit, residual=True).eval()
    g = torch.Generator().manual_seed(1)
    cond = DiTConditioning(source_latents=torch.randn(1, 4, 3, 8, 8, generator=g),
                           audio_features=torch.randn(1, 3, 4, 8, generator=g))
    noise = torch.randn(1, 4, 3, 8, 8, generator=g)
    with torch.no_grad():
        out = sample(lambda x, s, c=None: fused(x, sigma_to_timestep(s, 1000), cond), noise,
                     sigmas_for_sampling(6, 3.0))
    torch.testing.assert_close(out, cond.source_latents, atol=1e-5, rtol=0)
    torch.nn.init.normal_(dit.head.head.weight, std=0.1)
    fused.save_pretrained(tmp_path)
    loaded = load_dit(tmp_path).eval()
    assert isinstance(loaded, SourceFusedDiT) and loaded.residual
    x, t = noise, torch.tensor([400.0])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, t, cond), fused(x, t, cond))
        plain = SourceFusedDiT(dit).eval()
        assert not torch.allclose(plain(x, t, cond), fused(x, t, cond))
