"""Which processes train together: accelerate's process group, this process's `Worker`, and
the strategies the loop accepts.

accelerate forms a process group on CPU (gloo, `MULTI_CPU`) only when told to use the CPU;
without that, N processes under torchrun on a machine without an accelerator each see rank 0
of 1 and train as N independent runs. Every trainer asks `process_state()` (never
`PartialState()` directly) so the group exists and `loop.run`'s Accelerator agrees with it.
Imports: torch, accelerate, xdub.{errors, sharding}.
"""

from __future__ import annotations

import logging
import os

import torch
from accelerate import Accelerator, PartialState

from xdub.errors import ConfigError
from xdub.sharding import Worker

log = logging.getLogger(__name__)


def use_cpu() -> bool:
    """Train on the CPU: no accelerator, or `ACCELERATE_USE_CPU` set (`accelerate launch --cpu`).

    accelerate forms a process group on CPU (gloo, `MULTI_CPU`) only when told to use the CPU:
    without this, 2 processes under torchrun on a CPU machine train as 2 independent runs."""
    flag = os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")
    return flag or not torch.accelerator.is_available()


def process_state() -> PartialState:
    """This process's accelerate state (process group formed on first call, see `use_cpu`):
    every trainer asks here, never `PartialState()` directly, so `run`'s Accelerator agrees."""
    return PartialState(cpu=use_cpu())


def worker_of(state: PartialState) -> Worker:
    """The `xdub.sharding.Worker` of an accelerate state (for `Worker.own_rows` draws)."""
    return Worker(state.process_index, state.num_processes, state.local_process_index)


def check_strategy(accelerator: Accelerator) -> None:
    """Refuse DeepSpeed: ZeRO keeps the optimizer state in its own partitions, which the
    loop's checkpoints cannot read (docs/scaling.md); FSDP runs through `xdub.train.fsdp`.
    On CPU accelerate ignores a DeepSpeed request and runs DDP: say so."""
    kind = accelerator.distributed_type.value
    if kind == "DEEPSPEED":
        raise ConfigError("training under DeepSpeed is not supported yet: the loop's "
                          "checkpoints need the whole optimizer state (docs/scaling.md); "
                          "use configs/accelerate/fsdp.yaml or ddp.yaml")
    asked = os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() in ("1", "true")
    if asked and accelerator.is_main_process:
        log.warning("DeepSpeed was requested but accelerate runs %s on this machine", kind)
