"""Smoke training: the tiny DiT overfits one latent clip under a flow-matching loss."""

from __future__ import annotations

import torch
from models_testkit import random_inputs

from xdub.models import build_dit


def test_tiny_dit_overfits_one_clip():
    model = build_dit("tiny", seed=0).train()
    clean, _, cond = random_inputs(model.config, batch=1, frames=2, size=8, motion_frames=1)
    gen = torch.Generator().manual_seed(1)
    noise = torch.randn(clean.shape, generator=gen)
    sigmas = torch.linspace(0.1, 0.9, 4)  # a fixed set of noise levels: rectified flow
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)

    def loss_at(sigma: torch.Tensor) -> torch.Tensor:
        noisy = (1 - sigma) * clean + sigma * noise
        target = noise - clean  # velocity of x_t = (1 - s) x0 + s n
        pred = model(noisy, (sigma * 1000).reshape(1), cond)
        return (pred - target)[:, :, 1:].square().mean()  # frame 0 is the motion frame

    def mean_loss() -> float:
        with torch.no_grad():
            return float(torch.stack([loss_at(s) for s in sigmas]).mean())

    start = mean_loss()
    for step in range(30):
        optimizer.zero_grad()
        loss_at(sigmas[step % len(sigmas)]).backward()
        optimizer.step()
    end = mean_loss()
    assert end < 0.5 * start, f"loss {start:.3f} -> {end:.3f}"
