"""Flow-matching targets: x_t / velocity identities (the loss: tests/train/test_train_losses.py)."""

import torch

from xdub.diffusion import noisy_input, predict_x0, velocity_target


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
