"""Phase-restricted sampling, sub-run plans, expert switching by timestep, phase losses."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from xdub.audio import build_featurizer
from xdub.config.codec import TinyCodecConfig
from xdub.config.diffusion import DIFFUSION_PRESETS
from xdub.config.face import AlignConfig
from xdub.config.infer import DUBBER_PRESETS
from xdub.config.model import MODEL_PRESETS
from xdub.config.stage2 import PhaseScheduleConfig
from xdub.config.sync import SCORER_PRESETS
from xdub.diffusion import PHASES, PhaseMap, TrainSigmaSampler, sigmas_for_sampling
from xdub.models import attach_lora, build_dit
from xdub.models.codec import TinyVideoCodec
from xdub.generation import guided as generator_module
from xdub.generation import ChunkInput, ModelGenerator, SamplerSettings
from xdub.train.losses import crop_mouth_frames, laplacian_l1
from xdub.train.phases import SubRun, lip_band, mouth_box, plan_subruns, sample_phase_sigmas

PHASE_MAP = PhaseMap(0.7, 0.3)


@pytest.mark.parametrize("phase", PHASES)
def test_stage2_phase_restricted_sampling_stays_in_phase(phase):
    sampler = TrainSigmaSampler(kind="shifted_uniform", shift=3.0)
    run = SubRun("x", 10, phase=phase, focus=1.0)
    sigmas = sample_phase_sigmas(sampler, PHASE_MAP, run, 512, torch.Generator().manual_seed(0))
    lo, hi = PHASE_MAP.sigma_range(phase)
    assert bool(((sigmas >= lo) & (sigmas <= hi)).all())
    assert bool(PHASE_MAP.in_phase(sigmas[sigmas < hi], phase).all())


def test_stage2_focus_mixes_in_other_phases():
    sampler = TrainSigmaSampler(kind="shifted_uniform", shift=1.0)
    run = SubRun("x", 10, phase="lip", focus=0.5)
    sigmas = sample_phase_sigmas(sampler, PHASE_MAP, run, 4000, torch.Generator().manual_seed(1))
    inside = float(PHASE_MAP.in_phase(sigmas, "lip").float().mean())
    # 0.5 inside by construction + 0.5 * 0.4 (the lip band's share of a uniform draw)
    assert abs(inside - 0.7) < 0.04


def test_stage2_plans_spend_equal_compute():
    for mode in ("single", "lora", "sequential"):
        cfg = PhaseScheduleConfig(mode=mode, base_fraction=0.4, phase_shares=(1, 2, 1))
        runs = plan_subruns(cfg, 101)
        assert sum(r.steps for r in runs) == 101
    lora = plan_subruns(PhaseScheduleConfig(mode="lora", base_fraction=0.5), 60)
    assert [r.name for r in lora] == ["base", "expert_structure", "expert_lip", "expert_texture"]
    assert all(r.adapter == r.phase for r in lora[1:]) and lora[0].adapter is None
    assert plan_subruns(PhaseScheduleConfig(mode="single"), 7)[0].baseline


def _tiny_generator(experts):
    codec = TinyVideoCodec(TinyCodecConfig(image_size=32, latent_channels=8, widths=(8, 16)))
    featurizer = build_featurizer(DUBBER_PRESETS["tiny"].audio)
    cfg = replace(MODEL_PRESETS["tiny"], dim=64, num_layers=2, num_heads=2, ffn_dim=128,
                  freq_dim=32, latent_channels=8, audio_dim=featurizer.dim, audio_proj_dim=64,
                  audio_proj_heads=2)
    dit = build_dit(cfg, seed=0)
    attach_lora(dit, list(PHASES), rank=2)
    diffusion = replace(DIFFUSION_PRESETS["tiny"], num_inference_steps=10,
                        structure_lip_sigma=0.7, lip_texture_sigma=0.3)
    settings = SamplerSettings(diffusion, 10, experts)
    return ModelGenerator(dit, codec, featurizer, 32, settings), diffusion


def test_stage2_expert_switching_follows_sigma(monkeypatch):
    experts = tuple((p, p) for p in PHASES)
    gen, diffusion = _tiny_generator(experts)
    calls = []
    original = generator_module.set_active_adapter
    monkeypatch.setattr(generator_module, "set_active_adapter",
                        lambda model, name: (calls.append(name), original(model, name)))
    seen = []
    forward = gen.dit.forward

    def spy(x, t, cond):  # which adapter is live at each network call, and at which sigma
        bank = gen.dit.blocks[0].self_attn.q.lora_bank
        seen.append((float(t.reshape(-1)[0]) / 1000.0, bank.active))
        return forward(x, t, cond)

    monkeypatch.setattr(gen.dit, "forward", spy)
    crops = np.random.default_rng(0).integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)
    chunk = ChunkInput(crops, torch.zeros(3, 20, 80))
    gen.generate(chunk, torch.Generator().manual_seed(0))
    sigmas = sigmas_for_sampling(10, diffusion.shift)
    expected = [PhaseMap(0.7, 0.3).phase_of(float(s)) for s in sigmas[:-1]]
    assert [name for _, name in seen] == expected  # one batched 3-stream forward per step
    assert set(expected) == set(PHASES)  # the schedule visits every phase
    assert calls == [p for i, p in enumerate(expected) if i == 0 or expected[i - 1] != p]


def test_stage2_mouth_box_and_crop():
    scorer = SCORER_PRESETS["test"]
    align = AlignConfig(crop_size=64)
    cx, cy, w, h = mouth_box(64, align, scorer)
    assert 28 < cx < 36 and 32 < cy < 44 and abs(w / h - 2.0) < 1e-6
    frames = torch.zeros(2, 3, 64, 64)
    frames[:, :, int(cy) - 1:int(cy) + 2, :] = 1.0  # a bright horizontal line through the mouth
    crops = crop_mouth_frames(frames.requires_grad_(), (cx, cy, w, h), scorer)
    assert crops.shape == (2, 1, scorer.crop_height, scorer.crop_width)
    rows = crops[0, 0].mean(dim=1)
    assert rows[scorer.crop_height // 2] > rows[0] + 0.5  # the line lands mid-crop
    crops.sum().backward()  # differentiable back to the frames


def test_stage2_laplacian_ignores_flat_offsets_and_sees_edges():
    base = torch.rand(2, 3, 32, 32)
    assert float(laplacian_l1(base + 0.3, base, 3).max()) < 1e-5
    edged = base.clone()
    edged[:, :, ::2] += 0.2
    assert float(laplacian_l1(edged, base, 3).min()) > 0.01


def test_stage2_lip_band_from_profile():
    sigmas = list(np.linspace(0.05, 0.95, 19))
    profile = np.exp(-((np.array(sigmas) - 0.55) / 0.15) ** 2)
    lo, hi = lip_band(sigmas, profile, 0.5)
    assert 0.35 < lo < 0.45 and 0.65 < hi < 0.75


def test_stage2_x0_flow_weighting_is_the_velocity_loss_times_sigma_squared():
    """flow_weighting x0 scales each sample's flow term by sigma^2 (its x0-space error)."""
    from xdub.config.stage2 import PhaseObjectiveConfig
    from xdub.train.phases import PhaseBatch, PhaseObjective

    g = torch.Generator().manual_seed(0)
    shape = (3, 4, 2, 4, 4)
    pred, target, x_t = (torch.randn(shape, generator=g) for _ in range(3))
    sigma = torch.tensor([0.1, 0.5, 0.9])
    batch = PhaseBatch(pred, target, x_t, sigma, torch.zeros(shape), torch.zeros(3, 2, 4, 4),
                       torch.ones(3, 2))
    losses = {}
    for weighting in ("velocity", "x0"):
        cfg = PhaseObjectiveConfig(flow_weighting=weighting)
        losses[weighting], _ = PhaseObjective(cfg, PHASE_MAP, None, None, None)(batch, True)
    per_sample = (pred - target).square().mean(dim=(1, 2, 3, 4))
    torch.testing.assert_close(losses["velocity"], per_sample.mean())
    torch.testing.assert_close(losses["x0"], (per_sample * sigma.square()).mean())


def test_stage2_structure_mouth_weight_applies_to_high_noise_samples_only():
    """structure_mouth_weight changes the flow term of structure-phase samples (sigma above the
    structure/lip boundary) and of no other sample; 1 = the old objective."""
    from xdub.config.stage2 import PhaseObjectiveConfig
    from xdub.train.phases import PhaseBatch, PhaseObjective

    g = torch.Generator().manual_seed(0)
    shape = (3, 4, 2, 4, 4)
    pred, target, x_t = (torch.randn(shape, generator=g) for _ in range(3))
    region = torch.zeros(3, 2, 4, 4)
    region[..., 1:3, 1:3] = 1.0  # a mouth in the middle
    sigma = torch.tensor([0.1, 0.5, 0.9])  # texture, lip, structure (PHASE_MAP 0.7 / 0.3)
    batch = PhaseBatch(pred, target, x_t, sigma, torch.zeros(shape), region, torch.ones(3, 2))
    logs = {}
    for weight in (1.0, 10.0):
        cfg = PhaseObjectiveConfig(structure_mouth_weight=weight, sync_weight=0.0,
                                   texture_weight=0.0)
        _, logs[weight] = PhaseObjective(cfg, PHASE_MAP, None, None, None)(batch, False)
    assert logs[10.0]["flow_structure"] > 1.5 * logs[1.0]["flow_structure"]
    for phase in ("flow_lip", "flow_texture"):
        assert logs[10.0][phase] == pytest.approx(logs[1.0][phase])
