"""Phase offload: only the running phase's models on the accelerator.

A dub runs in phases that use disjoint models: the speech encoders turn the whole track into
features once; then, per chunk, the codec encodes the crops, the DiT samples, the codec
decodes. With `PhaseOffload` the idle models wait on `idle` (the CPU) and each phase moves its
own models to `compute` for as long as it runs, so the accelerator holds the largest phase
instead of all of them (`benchmarks/memory_plan.py`: the wan5b bf16 chunk drops from 18.4 to
13.1 GiB and fits a 16 GB card). The cost is the copies: the DiT (11.7 GiB in bf16) goes out
and back once per chunk, seconds over PCIe against minutes of sampling.
Outputs are unchanged: the same weights compute on the same device, only their home between
phases differs. When `compute` and `idle` are the same device every move is a no-op.
Imports: torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def modules_of(obj: object) -> list[torch.nn.Module]:
    """`obj` itself when it is a module, else the modules among its attributes (a featurizer
    holding its speech encoders)."""
    if isinstance(obj, torch.nn.Module):
        return [obj]
    return [v for v in vars(obj).values() if isinstance(v, torch.nn.Module)]


class PhaseOffload:
    """Moves models to `compute` for one phase and back to `idle` after it."""

    def __init__(self, compute: torch.device | str, idle: torch.device | str = "cpu") -> None:
        self.compute, self.idle = torch.device(compute), torch.device(idle)

    def park(self, *owners: object) -> None:
        """Send the models of `owners` to the idle device (at load time and after a phase)."""
        _move(owners, self.idle)

    @contextmanager
    def phase(self, *owners: object) -> Iterator[None]:
        """The models of `owners` on the compute device while the block runs, then idle."""
        _move(owners, self.compute)
        try:
            yield
        finally:
            self.park(*owners)


def _move(owners: tuple[object, ...], device: torch.device) -> None:
    """Move every module of `owners` to `device`. Outside inference mode even when called in
    it (`generate` is), so the parameters stay ordinary tensors that training can still use."""
    with torch.inference_mode(False):
        for owner in owners:
            for module in modules_of(owner):
                module.to(device)
