"""Phase map: boundaries, vectorised ids, ranges, expert plan, measurement helpers."""

import numpy as np
import pytest
import torch

from xdub.config.diffusion import DIFFUSION_PRESETS
from xdub.diffusion import (
    PHASES,
    PhaseMap,
    active_range,
    per_sigma_profile,
    sigmas_for_sampling,
    with_expert_switch,
)


def test_phase_boundaries():
    pm = PhaseMap.from_config(DIFFUSION_PRESETS["wan5b"])
    assert (pm.structure_lip_sigma, pm.lip_texture_sigma) == (0.8, 0.4)
    assert pm.phase_of(1.0) == "structure" and pm.phase_of(0.8) == "structure"
    assert pm.phase_of(0.7999) == "lip" and pm.phase_of(0.4) == "lip"
    assert pm.phase_of(0.3999) == "texture" and pm.phase_of(0.0) == "texture"
    with pytest.raises(ValueError):
        PhaseMap(0.3, 0.5)


def test_phase_ids_agree_with_phase_of():
    pm = PhaseMap(0.75, 0.35)
    sigmas = torch.linspace(0, 1, 201)
    ids = pm.phase_ids(sigmas)
    assert [PHASES[i] for i in ids.tolist()] == [pm.phase_of(float(s)) for s in sigmas]
    s64 = sigmas.double()
    assert pm.in_phase(sigmas, "lip").sum() == ((s64 >= 0.35) & (s64 < 0.75)).sum()


def test_sigma_ranges_tile_unit_interval():
    pm = PhaseMap(0.8, 0.4)
    ranges = [pm.sigma_range(p) for p in reversed(PHASES)]
    assert ranges == [(0.0, 0.4), (0.4, 0.8), (0.8, 1.0)]
    for phase in PHASES:
        lo, hi = pm.sigma_range(phase)
        assert pm.phase_of((lo + hi) / 2) == phase


def test_expert_plan_and_switching():
    pm = PhaseMap(0.75, 0.35)  # boundaries off the grid: no float32 tie at a boundary
    sigmas = sigmas_for_sampling(10, 1.0)  # 1.0, 0.9, ..., 0.1, 0.0
    plan = pm.experts_for(sigmas, {"structure": None, "lip": "lip_lora", "texture": "tex_lora"})
    assert plan == [None] * 3 + ["lip_lora"] * 4 + ["tex_lora"] * 3
    activated = []
    fn = with_expert_switch(lambda x, s, i: x, plan, activated.append)
    for i in range(10):
        fn(torch.zeros(1), torch.zeros(1), i)
    assert activated == [None, "lip_lora", "tex_lora"]  # only on change


def test_profile_and_active_range_find_bump():
    sigmas = np.linspace(0.0, 1.0, 41)
    # synthetic audio attribution: a bump between 0.4 and 0.8 (plateau 1, ramps of width 0.05)
    def attribution(s: float) -> torch.Tensor:
        return torch.tensor(np.clip(min(s - 0.375, 0.825 - s) / 0.05, 0.0, 1.0))

    profile = per_sigma_profile(attribution, sigmas)
    assert profile.shape == (41,) and profile.dtype == np.float64
    lo, hi = active_range(sigmas[::-1], profile[::-1], fraction=0.5)  # order must not matter
    assert lo == pytest.approx(0.4, abs=1e-9) and hi == pytest.approx(0.8, abs=1e-9)
    vec = per_sigma_profile(lambda s: np.array([s, 2 * s]), [0.1, 0.2, 0.3])
    assert vec.shape == (3, 2)
