"""Train-time sigma sampling: distribution sanity, phase restriction, determinism."""

import pytest
import torch

from xdub.config.diffusion import DIFFUSION_PRESETS
from xdub.diffusion import (
    PhaseMap,
    TrainSigmaSampler,
    logit_normal_sigmas,
    shift_sigma,
    shifted_uniform_sigmas,
)

N = 40_000


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_logit_normal_distribution():
    sigma = logit_normal_sigmas(N, _gen(), mean=0.0, std=1.0)
    assert sigma.shape == (N,) and sigma.dtype == torch.float32
    assert 0.0 < sigma.min() and sigma.max() < 1.0
    assert sigma.median().item() == pytest.approx(0.5, abs=0.01)
    z = torch.logit(sigma.double())
    assert z.std().item() == pytest.approx(1.0, abs=0.02)
    shifted = logit_normal_sigmas(N, _gen(), mean=1.0, std=1.0)
    expected = torch.sigmoid(torch.tensor(1.0)).item()
    assert shifted.median().item() == pytest.approx(expected, abs=0.01)


def test_shifted_uniform_distribution():
    sigma = shifted_uniform_sigmas(N, _gen(), shift=3.0)
    # the median of the shifted draw is the shifted median of U(0, 1)
    assert sigma.median().item() == pytest.approx(shift_sigma(0.5, 3.0).item(), abs=0.01)
    plain = shifted_uniform_sigmas(N, _gen(), shift=1.0)
    assert plain.mean().item() == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("kind", ["logit_normal", "shifted_uniform"])
@pytest.mark.parametrize("phase", ["structure", "lip", "texture"])
def test_phase_restriction_is_conditional_distribution(kind, phase):
    sampler = TrainSigmaSampler(kind=kind, shift=3.0, logit_mean=0.0, logit_std=1.0)
    lo, hi = PhaseMap(0.8, 0.4).sigma_range(phase)
    restricted = sampler(N, _gen(1), sigma_range=(lo, hi))
    assert restricted.min() >= lo and restricted.max() <= hi
    # same distribution as the unrestricted sampler conditioned on the range
    full = sampler(4 * N, _gen(2))
    conditioned = full[(full >= lo) & (full <= hi)]
    q = torch.tensor([0.1, 0.5, 0.9])
    assert torch.allclose(restricted.quantile(q), conditioned.quantile(q), atol=0.01)


def test_determinism_with_generator():
    sampler = TrainSigmaSampler.from_config(DIFFUSION_PRESETS["wan5b"])
    a = sampler(16, _gen(7))
    b = sampler(16, _gen(7))
    c = sampler(16, _gen(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(
        logit_normal_sigmas(8, _gen(3), sigma_range=(0.2, 0.3)),
        logit_normal_sigmas(8, _gen(3), sigma_range=(0.2, 0.3)),
    )


def test_bad_range_rejected():
    with pytest.raises(ValueError):
        shifted_uniform_sigmas(4, _gen(), sigma_range=(0.5, 0.5))
