"""Config of the one training loop (`xdub.train.loop`) that every trainer runs on: the tiny
codec, the sync scorer, stage 1 and stage 2 each hold a `loop: LoopConfig` (their step count,
optimiser, EMA and checkpoint cadence) next to their own recipe fields. Imports: stdlib + errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from xdub.errors import ConfigError


@dataclass(frozen=True, slots=True)
class LoopConfig:
    """nanoGPT-style loop: AdamW + warmup/cosine, grad accumulation, clipping, EMA, checkpoints."""

    steps: int = 2000  # optimiser steps in total (resume continues up to this)
    batch_size: int = 8  # samples per micro-batch and process
    grad_accum: int = 1  # micro-batches per optimiser step
    lr: float = 1e-3  # AdamW peak learning rate (tiny DiT: 5e-4 .. 2e-3; wan5b: 1e-5)
    min_lr_ratio: float = 0.1  # cosine decays to lr * this
    warmup: int = 50  # linear warmup steps
    weight_decay: float = 0.01  # AdamW decoupled decay
    betas: tuple[float, float] = (0.9, 0.99)  # AdamW betas; 0.99 is steadier for small batches
    grad_clip: float = 1.0  # max global grad norm; 0 = off
    ema_decay: float = 0.999  # EMA decay ceiling; effective decay is min(this, (1+s)/(10+s))
    ckpt_every: int = 100  # optimiser steps between checkpoints (also at the end / on stop)
    keep_checkpoints: int = 2  # newest checkpoints kept on disk
    log_every: int = 10  # steps between metrics.jsonl lines
    sample_every: int = 250  # steps between sample videos/frames (0 = only at the end)
    seed: int = 0  # model init, data order, noise
    num_threads: int = 1  # torch intra-op threads per process (shared CPUs: keep 1)
    max_minutes: float = 0.0  # wall-clock budget; > 0 stops cleanly (with a checkpoint) after it
    budget_clock: Literal["wall", "cpu"] = "wall"  # what max_minutes measures: wall-clock, or
    #   this process's CPU time (steady on shared CPUs; counts data rendering too)
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"  # accelerate autocast on accelerators
    gradient_checkpointing: bool = False  # recompute each block in backward: activations drop
    #   to the block inputs (~7x less at wan5b, benchmarks/train_memory.py) for ~30% more compute

    def __post_init__(self) -> None:
        if min(self.steps, self.batch_size, self.grad_accum, self.ckpt_every, self.log_every) < 1:
            raise ConfigError("loop: steps, batch_size, grad_accum, ckpt_every, log_every >= 1")
        if self.keep_checkpoints < 1 or self.sample_every < 0 or self.lr <= 0:
            raise ConfigError("loop: keep_checkpoints >= 1, sample_every >= 0, lr > 0")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError("loop: ema_decay must be in [0, 1)")
