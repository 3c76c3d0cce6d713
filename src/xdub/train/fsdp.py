"""Fully sharded training for the one loop: PyTorch FSDP2 (`fully_shard`) on CPU and GPU.

Asked for by accelerate's FSDP config (`configs/accelerate/fsdp.yaml`: ACCELERATE_USE_FSDP,
FSDP_TRANSFORMER_CLS_TO_WRAP, FSDP_RESHARD_AFTER_FORWARD) under any launcher with several
processes; on CPU accelerate itself runs FSDP never (it falls back to DDP), so the loop shards
the model here instead of in `accelerator.prepare`, the same way on both. Each wrapped block
(`DiTBlock`) is one unit, then the whole model; parameters, gradients, AdamW moments and the
EMA shadows are DTensor shards.

Checkpoints stay in the unsharded layout of every other run (full tensors, the optimizer's
usual integer-keyed state), so a run resumes across DDP, FSDP and process counts: saving
gathers each shard (`full_tensor`, a collective: every process calls it), loading scatters
full tensors onto the shards of the matching parameter (`distribute_tensor`).
Imports: torch.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor, distribute_tensor

DEFAULT_WRAP = ("DiTBlock",)


def requested(distributed_type: str) -> bool:
    """Whether this run asked for FSDP (accelerate's FSDP state or its launch variable)."""
    flag = os.environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true")
    return flag or distributed_type == "FSDP"


def shard_model(model: nn.Module) -> None:
    """Shard `model` in place: each module of a wrapped class, then the root."""
    names = os.environ.get("FSDP_TRANSFORMER_CLS_TO_WRAP", "")
    wrap = tuple(n.strip() for n in names.split(",") if n.strip()) or DEFAULT_WRAP
    reshard = os.environ.get("FSDP_RESHARD_AFTER_FORWARD", "true").lower() in ("1", "true")
    for module in list(model.modules()):
        if type(module).__name__ in wrap:
            fully_shard(module, reshard_after_forward=reshard)
    fully_shard(model, reshard_after_forward=reshard)


def gathered(value: Any) -> Any:
    """A DTensor as its full tensor (collective), anything else as it is."""
    return value.full_tensor() if isinstance(value, DTensor) else value


def scattered(full: torch.Tensor, like: Any) -> Any:
    """`full` cut into the shards of DTensor `like` (a plain `like`: `full` as is)."""
    if not isinstance(like, DTensor):
        return full
    return distribute_tensor(full.to(device=like.device, dtype=like.dtype), like.device_mesh,
                             like.placements)


def full_tensors(tensors: dict[str, Any]) -> dict[str, Any]:
    """Every value gathered (model or EMA state)."""
    return {name: gathered(value) for name, value in tensors.items()}


def sharded_tensors(full: dict[str, torch.Tensor], like: dict[str, Any]) -> dict[str, Any]:
    """Full tensors scattered like the same names of `like`."""
    return {name: scattered(value, like[name]) if name in like else value
            for name, value in full.items()}


def full_optimizer_state(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer's state dict with every DTensor moment gathered (the usual layout)."""
    state = optimizer.state_dict()
    moments = {index: {key: gathered(value) for key, value in entry.items()}
               for index, entry in state["state"].items()}
    return {"state": moments, "param_groups": state["param_groups"]}


def load_full_optimizer_state(optimizer: torch.optim.Optimizer, full: dict[str, Any]) -> None:
    """Load an unsharded optimizer state into an optimizer over DTensor parameters."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    moments = {}
    for index, entry in full["state"].items():
        param = params[int(index)]
        moments[index] = {key: scattered(value, param) if key != "step" else value
                          for key, value in entry.items()}
    optimizer.load_state_dict({"state": moments, "param_groups": full["param_groups"]})


def clip_gradients(params: list[nn.Parameter], max_norm: float) -> float:
    """Global gradient norm of sharded parameters, clipped to `max_norm` when > 0."""
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm if max_norm > 0 else float("inf"))
    return float(gathered(norm))
