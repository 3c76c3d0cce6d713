"""Border latents pinned to the (noised) source while sampling."""

from __future__ import annotations

import torch

from xdub.diffusion import border_mask, pin_border, with_pinned_border


def test_mask_is_the_outer_ring_of_frames_after_the_start():
    mask = border_mask((2, 3, 4, 5, 6), start_frame=1, width=1)
    assert mask.shape == (1, 1, 4, 5, 6)
    assert not mask[..., 0, :, :].any()
    ring = 2 * 6 + 2 * (5 - 2)
    assert int(mask[0, 0, 1].sum()) == ring and not mask[0, 0, 1, 1:-1, 1:-1].any()
    assert not border_mask((1, 1, 2, 4, 4), start_frame=2, width=1).any()
    assert not border_mask((1, 1, 2, 4, 4), start_frame=0, width=0).any()


def test_model_sees_the_noised_source_on_the_ring_and_x_inside():
    gen = torch.Generator().manual_seed(0)
    x, source, noise = (torch.randn(2, 3, 2, 5, 5, generator=gen) for _ in range(3))
    mask = border_mask(x.shape, 0, 1)
    seen = []

    def model_fn(x_t, sigma, step):
        seen.append(x_t)
        return torch.zeros_like(x_t)

    pinned = with_pinned_border(model_fn, source, noise, mask)
    for sigma in (0.99, 0.3):
        pinned(x, torch.full((2,), sigma), 0)
        level = min(sigma, 0.95)  # the released cap
        expected = (1 - level) * source + level * noise
        torch.testing.assert_close(seen[-1][mask.expand_as(x)], expected[mask.expand_as(x)])
        torch.testing.assert_close(seen[-1][~mask.expand_as(x)], x[~mask.expand_as(x)])
    torch.testing.assert_close(pin_border(x, source, mask)[mask.expand_as(x)],
                               source[mask.expand_as(x)])
