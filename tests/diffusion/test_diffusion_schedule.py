"""Schedule math: shift formula, endpoints, monotonicity, timestep scale, diffusers agreement."""

import numpy as np
import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from xdub.diffusion import schedule


def test_shift_formula_and_inverse():
    s = torch.linspace(0, 1, 101, dtype=torch.float64)
    shifted = schedule.shift_sigma(s, 5.0)
    assert torch.allclose(shifted, 5 * s / (1 + 4 * s))
    assert torch.allclose(schedule.unshift_sigma(shifted, 5.0), s, atol=1e-12)
    assert torch.equal(schedule.shift_sigma(s, 1.0), s)  # shift 1 is the identity
    # shift > 1 moves every interior level towards noise
    assert bool((shifted[1:-1] > s[1:-1]).all())
    with pytest.raises(ValueError):
        schedule.shift_sigma(s, 0.0)


@pytest.mark.parametrize("shift", [1.0, 3.0, 5.0])
def test_sampling_sigmas_endpoints_and_monotonic(shift):
    sigmas = schedule.sigmas_for_sampling(50, shift)
    assert sigmas.shape == (51,) and sigmas.dtype == torch.float32
    assert float(sigmas[0]) == 1.0 and float(sigmas[-1]) == 0.0
    assert bool((sigmas[1:] < sigmas[:-1]).all())


@pytest.mark.parametrize("steps,shift", [(50, 5.0), (20, 3.0), (4, 1.0), (7, 7.5)])
def test_sampling_sigmas_match_diffusers_flow_match_euler(steps, shift):
    sched = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)
    sched.set_timesteps(sigmas=np.linspace(1.0, 1.0 / steps, steps).tolist())
    ours = schedule.sigmas_for_sampling(steps, shift)
    assert torch.allclose(ours, sched.sigmas.float(), atol=1e-6)
    assert torch.allclose(schedule.sigma_to_timestep(ours[:-1]), sched.timesteps, atol=1e-3)


def test_denoise_strength_starts_lower_with_same_step_count():
    full = schedule.sigmas_for_sampling(10, 5.0)
    half = schedule.sigmas_for_sampling(10, 5.0, denoise_strength=0.5)
    assert half.shape == full.shape
    assert torch.isclose(half[0], schedule.shift_sigma(torch.tensor(0.5), 5.0))
    assert float(half[-1]) == 0.0


def test_sigmas_from_inserts_start_and_keeps_tail():
    sigmas = schedule.sigmas_for_sampling(10, 1.0)  # 1.0, 0.9, ..., 0.0
    tail = schedule.sigmas_from(sigmas, 0.55)
    assert float(tail[0]) == pytest.approx(0.55)
    assert torch.allclose(tail[1:], sigmas[sigmas < 0.55])
    assert torch.allclose(schedule.sigmas_from(sigmas, 0.5), sigmas[5:])  # on-grid start
    with pytest.raises(ValueError):
        schedule.sigmas_from(sigmas, 0.0)


def test_timestep_scale_round_trip():
    sigma = torch.tensor([0.0, 0.25, 1.0])
    assert torch.equal(schedule.sigma_to_timestep(sigma), torch.tensor([0.0, 250.0, 1000.0]))
    assert torch.equal(schedule.timestep_to_sigma(schedule.sigma_to_timestep(sigma)), sigma)


def test_expand_sigma_rejects_wrong_batch():
    x = torch.zeros(2, 3, 4)
    assert schedule.expand_sigma(torch.tensor([0.1, 0.2]), x).shape == (2, 1, 1)
    with pytest.raises(ValueError):
        schedule.expand_sigma(torch.tensor([0.1, 0.2, 0.3]), x)
