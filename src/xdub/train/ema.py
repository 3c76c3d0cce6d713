"""Exponential moving average of a model's parameters (the weights we sample and ship).

Decay warms up as `min(decay, (1 + step) / (10 + step))` so a short run's EMA is not stuck
near the random init. Shadow copies are float32 whatever the model's dtype.
Imports: torch.
"""

from __future__ import annotations

import torch
from torch import nn


class EMA:
    """Shadow float32 copies of `model`'s floating-point parameters."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {name: p.detach().float().clone()
                       for name, p in model.named_parameters() if p.is_floating_point()}

    def current_decay(self, step: int) -> float:
        """Decay used at optimiser step `step` (0-based)."""
        return min(self.decay, (1.0 + step) / (10.0 + step))

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """shadow <- d * shadow + (1 - d) * param."""
        decay = self.current_decay(step)
        for name, param in model.named_parameters():
            if name in self.shadow:
                self.shadow[name].lerp_(param.detach().float(), 1.0 - decay)

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Write the EMA weights into `model` (same architecture)."""
        for name, param in model.named_parameters():
            if name in self.shadow:
                param.copy_(self.shadow[name].to(param.dtype))

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Shadow tensors by parameter name."""
        return dict(self.shadow)

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore shadows (same names as this EMA's)."""
        missing = set(self.shadow) - set(state)
        if missing:
            raise KeyError(f"EMA state misses {sorted(missing)[:3]}")
        self.shadow = {name: state[name].float().clone() for name in self.shadow}
