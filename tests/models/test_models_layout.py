"""Token layout: RoPE positions per stream, per-token timesteps, motion frames, audio windows."""

from __future__ import annotations

import torch
from models_testkit import micro_config, random_inputs

from xdub.models import build_dit
from xdub.models.layout import TokenGrid, stream_positions, token_timesteps
from xdub.models.rope import apply_rope, grid_positions, rope_angles, rope_axis_dims


def test_stream_positions_follow_the_official_layout():
    grid = TokenGrid(frames=3, height=4, width=5)
    pos = stream_positions(grid, ref_frames=2)
    n = grid.num_tokens
    source, refs, target = pos[:n], pos[n : n + 2 * 20], pos[n + 2 * 20 :]
    assert pos.shape == (n + 40 + n, 3)
    # target: (f, h, w) from 0; source: same frames, shifted diagonally by one grid in space
    assert torch.equal(target, grid_positions(3, 4, 5))
    assert torch.equal(source, target + torch.tensor([0, 4, 5]))
    # identity refs: after the clip in time, target's spatial positions
    assert refs[:, 0].tolist() == [3] * 20 + [4] * 20
    assert torch.equal(refs[:20, 1:], target[:20, 1:])
    # token order is row-major (frame, row, col)
    assert target[:6].tolist() == [[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 0, 3], [0, 0, 4], [0, 1, 0]]


def test_rope_splits_head_like_wan_and_is_relative():
    assert rope_axis_dims(128) == (44, 42, 42)
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(1, 1, 1, 32, generator=gen)
    k = torch.randn(1, 1, 1, 32, generator=gen)

    def score(p_q, p_k):
        cq, sq = rope_angles(torch.tensor([p_q]), 32)
        ck, sk = rope_angles(torch.tensor([p_k]), 32)
        return (apply_rope(q, cq, sq) * apply_rope(k, ck, sk)).sum()

    # attention scores depend only on the position difference, on every axis
    assert torch.allclose(score([1, 2, 3], [0, 0, 0]), score([5, 7, 9], [4, 5, 6]), atol=1e-5)
    assert not torch.allclose(score([1, 2, 3], [0, 0, 0]), score([1, 2, 4], [0, 0, 0]), atol=1e-3)
    # position (0, 0, 0) is the identity rotation
    c0, s0 = rope_angles(torch.zeros(1, 3, dtype=torch.long), 32)
    assert torch.equal(apply_rope(q, c0, s0), q)


def test_rope_pairs_adjacent_channels_with_wan_frequencies():
    cos, sin = rope_angles(torch.tensor([[1, 0, 0], [0, 1, 0]]), 128)
    frame_freqs = 1.0 / 10000 ** (torch.arange(0, 44, 2, dtype=torch.float64) / 44)
    row_freqs = 1.0 / 10000 ** (torch.arange(0, 42, 2, dtype=torch.float64) / 42)
    assert torch.allclose(cos[0, :22].double(), frame_freqs.cos(), atol=1e-6)
    assert torch.allclose(cos[0, 22:], torch.ones(42))
    assert torch.allclose(sin[1, 22:43].double(), row_freqs.sin(), atol=1e-6)


def test_token_timesteps_zero_on_conditioning_and_motion():
    grid = TokenGrid(frames=3, height=2, width=2)
    t = torch.tensor([700.0, 300.0])
    per_token = token_timesteps(t, grid, num_cond_tokens=12, motion_frames=1,
                                motion_mask=torch.tensor([True, False]))
    assert per_token.shape == (2, 24)
    assert (per_token[:, :12] == 0).all()
    assert (per_token[0, 12:16] == 0).all() and (per_token[0, 16:] == 700).all()
    assert (per_token[1, 12:] == 300).all()  # sample 1 does not use its motion frames


def test_conditioning_tokens_are_modulated_at_t0():
    config = micro_config()
    model = build_dit(config, seed=0).eval()
    noisy, t, cond = random_inputs(config, batch=1, motion_frames=1)
    seen = {}
    hook = lambda module, args: seen.update(t_mod=args[1], n=args[3])  # noqa: E731
    model.blocks[0].register_forward_pre_hook(hook)
    model(noisy, torch.tensor([600.0]), cond)
    _, mod_zero = model._embed_timesteps(torch.zeros(1, 1))
    _, mod_t = model._embed_timesteps(torch.full((1, 1), 600.0))
    n, per_frame = seen["n"], 16  # 8x8 latents / 2x2 patches
    assert n == 3 * per_frame  # the whole source stream is conditioning
    clean, noisy_part = seen["t_mod"][0, : n + per_frame], seen["t_mod"][0, n + per_frame :]
    assert torch.allclose(clean, mod_zero[0].expand(n + per_frame, -1, -1), atol=1e-6)
    assert torch.allclose(noisy_part, mod_t[0].expand(2 * per_frame, -1, -1), atol=1e-6)


def test_motion_latents_replace_the_noisy_first_frames():
    config = micro_config()
    model = build_dit(config, seed=0).eval()
    noisy, t, cond = random_inputs(config, motion_frames=1)
    out = model(noisy, t, cond)
    scrambled = noisy.clone()
    scrambled[:, :, :1] = torch.randn_like(scrambled[:, :, :1])
    assert torch.allclose(model(scrambled, t, cond), out, atol=1e-6)
    cond.motion_latents = cond.motion_latents + 1.0
    assert not torch.allclose(model(noisy, t, cond), out, atol=1e-4)


def test_audio_window_k_reaches_only_latent_frame_k_in_one_block():
    config = micro_config(num_layers=1)  # after the single block only the per-token MLP runs
    model = build_dit(config, seed=0).eval()
    noisy, t, cond = random_inputs(config, batch=1, frames=3)
    out = model(noisy, t, cond)
    cond.audio_features = cond.audio_features.clone()
    cond.audio_features[:, 1] += 1.0
    changed = (model(noisy, t, cond) - out).abs().amax(dim=(0, 1, 3, 4))
    assert changed[1] > 1e-4 and changed[0] == 0 and changed[2] == 0


def test_source_stream_changes_prediction_and_has_no_output():
    config = micro_config()
    model = build_dit(config, seed=0).eval()
    noisy, t, cond = random_inputs(config)
    out = model(noisy, t, cond)
    assert out.shape == noisy.shape  # prediction covers the target tokens only
    cond.source_latents = torch.zeros_like(cond.source_latents)
    assert not torch.allclose(model(noisy, t, cond), out, atol=1e-4)
