"""Targets and loss: x_t / velocity identities, region and per-sample weighting."""

import pytest
import torch

from xdub.diffusion import (
    flow_matching_loss,
    noisy_input,
    predict_x0,
    sigmas_for_sampling,
    timestep_loss_weight,
    velocity_target,
)


def _latents(seed: int, shape=(2, 4, 3, 8, 8)) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_x0_and_noise_recoverable_from_xt_and_velocity():
    x0, noise = _latents(0), _latents(1)
    sigma = torch.tensor([0.3, 0.9], dtype=torch.float64)
    x_t = noisy_input(x0, noise, sigma)
    v = velocity_target(x0, noise)
    assert torch.allclose(predict_x0(x_t, v, sigma), x0, atol=1e-12)
    assert torch.allclose(x_t + (1 - sigma.view(-1, 1, 1, 1, 1)) * v, noise, atol=1e-12)
    # endpoints of the path
    assert torch.equal(noisy_input(x0, noise, 0.0), x0)
    assert torch.equal(noisy_input(x0, noise, 1.0), noise)


def test_velocity_is_derivative_of_path():
    x0, noise = _latents(2), _latents(3)
    eps = 1e-6
    finite_diff = (noisy_input(x0, noise, 0.4 + eps) - noisy_input(x0, noise, 0.4)) / eps
    assert torch.allclose(finite_diff, velocity_target(x0, noise), atol=1e-6)


def test_loss_is_plain_mse_without_weights():
    pred, target = _latents(4), _latents(5)
    assert torch.allclose(flow_matching_loss(pred, target), ((pred - target) ** 2).mean())


def test_region_mask_doubles_weight_inside_mask():
    target = torch.zeros(1, 2, 1, 4, 4)
    pred = torch.ones(1, 2, 1, 4, 4)
    mask = torch.zeros(1, 1, 4, 4)  # [B, F, H, W]
    mask[..., :2, :] = 1.0  # top half is "mouth"
    plain = flow_matching_loss(pred, target)
    weighted = flow_matching_loss(pred, target, region_mask=mask, region_weight=2.0)
    assert plain.item() == pytest.approx(1.0)
    assert weighted.item() == pytest.approx(1.5)  # half the pixels count twice
    # error only inside the mask: exactly doubled
    pred_in = torch.zeros_like(pred)
    pred_in[..., :2, :] = 1.0
    weighted_in = flow_matching_loss(pred_in, target, region_mask=mask)
    ratio = weighted_in / flow_matching_loss(pred_in, target)
    assert ratio.item() == pytest.approx(2.0)


def test_per_sample_weight_and_region_weight():
    pred, target = torch.ones(2, 1, 1, 2, 2), torch.zeros(2, 1, 1, 2, 2)
    per = flow_matching_loss(pred, target, weight=torch.tensor([1.0, 0.0]), reduce=False)
    assert per.tolist() == [1.0, 0.0]
    mask = torch.ones(2, 1, 1, 2, 2)
    per = flow_matching_loss(
        pred, target, region_mask=mask, region_weight=torch.tensor([2.0, 1.0]), reduce=False
    )
    assert per.tolist() == [2.0, 1.0]  # mouth weighting only for the first (lip-phase) sample
    with pytest.raises(ValueError):
        flow_matching_loss(pred, target, region_mask=torch.ones(2, 1, 3, 3))


def test_bell_weight_mean_one_on_training_grid():
    grid = sigmas_for_sampling(1000, 5.0)[:-1]
    w = timestep_loss_weight(grid, "bell", shift=5.0)
    assert w.mean().item() == pytest.approx(1.0, abs=1e-5)
    assert w[0].item() == pytest.approx(0.0, abs=1e-6)  # sigma = 1 end gets no weight
    mid = timestep_loss_weight(torch.tensor([0.5, 0.1]), "bell")
    assert mid[0] > mid[1]
    assert torch.equal(timestep_loss_weight(grid, "none"), torch.ones_like(grid))
