"""The one training loop (nanoGPT style) of the tiny codec, the sync scorer, stage 1 and
stage 2: no knowledge of stages, models or data.

    result = run(cfg, run_dir, model, step_fn, batches, run_config=stage_cfg, sample_fn=...)
    load_final_weights(model, run_dir)   # the EMA weights of the newest checkpoint, for export

- `step_fn(model, batch) -> (loss, logs)`: the stage's whole objective; `model` is the
  accelerate-prepared module (DDP-wrapped with several processes: call it, don't unwrap it).
  With several processes the logged `loss` is the mean over processes (the global batch's);
  the other logs are process 0's. Trainers get their rank from `process_state()`.
- `batches(consumed) -> iterable`: endless batches for this process, starting after
  `consumed` micro-batches (so a resumed run continues the data stream where it stopped).
- `sample_fn(ema_model, step, folder)`: writes sample frames/videos (or held-out metrics)
  into `folder`, every `sample_every` steps and at the end.
AdamW with linear warmup + cosine decay, gradient accumulation (no gradient sync on inner
micro-batches), gradient clipping, EMA, checkpoints every `ckpt_every` steps (+ at the end,
on a time-budget stop, wall-clock or CPU time, and on Ctrl-C); a rerun resumes from the
newest checkpoint (weights, optimiser, scheduler, EMA, step, RNG states). Works on CPU with
one process and with several (torchrun / accelerate: DDP, or FSDP2 shards through
`xdub.train.fsdp`); checkpoints are unsharded, so a run resumes across process counts and
strategies (docs/scaling.md). Run dir: config.yaml, git_sha.txt,
metrics.jsonl (process 0), loss.png (`panels`), index.html, checkpoints/, samples/.
Imports: torch, accelerate, tqdm, xdub.{atomic, config, train}.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from torch import nn
from tqdm.auto import tqdm

from xdub.atomic import write_text_atomic
from xdub.config import save
from xdub.config.train import LoopConfig
from xdub.train import fsdp, report
from xdub.train.processes import check_strategy, process_state, use_cpu
from xdub.train.checkpointing import (
    Checkpoint,
    capture_rng,
    latest_checkpoint,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from xdub.train.ema import EMA
from xdub.train.report import Panel

log = logging.getLogger(__name__)

StepFn = Callable[[nn.Module, Any], tuple[torch.Tensor, dict[str, float]]]
BatchSource = Callable[[int], Iterable[Any]]
SampleFn = Callable[[nn.Module, int, Path], None]


@dataclass(frozen=True)
class LoopResult:
    """How a run ended: last optimiser step, why it stopped, last logged loss."""

    step: int
    stopped: str  # "done" | "budget" | "interrupted"
    resumed_from: int  # step the run started at (0 = fresh)
    last_loss: float


def lr_factor(step: int, cfg: LoopConfig) -> float:
    """Learning-rate multiplier at optimiser step `step`: linear warmup, cosine to min_lr_ratio."""
    if cfg.warmup and step < cfg.warmup:
        return (step + 1) / cfg.warmup
    progress = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def git_sha() -> str:
    """Commit of the xdub source tree (+ " dirty" with local changes), or "unknown"."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=30, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha} dirty" if dirty else sha


@dataclass
class _State:
    """Everything the loop saves and restores."""

    model: nn.Module  # unwrapped
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    ema: EMA
    generators: dict[str, torch.Generator]
    step: int = 0
    sharded: bool = False  # FSDP: tensors are shards, checkpoints gather / scatter them

    def checkpoint(self, consumed: int) -> Checkpoint:
        """The unsharded checkpoint (with FSDP a collective: every process calls it)."""
        model, ema = self.model.state_dict(), self.ema.state_dict()
        optimizer = self.optimizer.state_dict()
        if self.sharded:
            model, ema = fsdp.full_tensors(model), fsdp.full_tensors(ema)
            optimizer = fsdp.full_optimizer_state(self.optimizer)
        opt = {"optimizer": optimizer, "scheduler": self.scheduler.state_dict()}
        return Checkpoint(self.step, model, ema, opt, capture_rng(self.generators),
                          {"consumed_micro_batches": consumed})

    def restore(self, ckpt: Checkpoint) -> None:
        """Everything but the weights, which `run` loads before sharding."""
        if ckpt.ema is not None:
            shadows = self.ema.shadow
            self.ema.load_state_dict(ckpt.ema)
            if self.sharded:
                self.ema.shadow = fsdp.sharded_tensors(self.ema.shadow, shadows)
        if ckpt.optimizer is not None:
            if self.sharded:
                fsdp.load_full_optimizer_state(self.optimizer, ckpt.optimizer["optimizer"])
            else:
                self.optimizer.load_state_dict(ckpt.optimizer["optimizer"])
            self.scheduler.load_state_dict(ckpt.optimizer["scheduler"])
        restore_rng(ckpt.rng, self.generators)


def _prepare_run_dir(run_dir: Path, run_config: Any | None, is_main: bool) -> None:
    """Process 0 creates `run_dir` with `config.yaml` (when given a config) and `git_sha.txt`."""
    if not is_main:
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    if run_config is not None:
        save(run_config, run_dir / "config.yaml")
    write_text_atomic(run_dir / "git_sha.txt", git_sha() + "\n")


def _ema_model(state: _State) -> nn.Module:
    """A detached copy of the model carrying the EMA weights, in eval mode."""
    model = copy.deepcopy(state.model)
    state.ema.copy_to(model)
    return model.eval()


LOSS_PANELS = (Panel(("loss",), log_y=True),)


def _refresh_report(run_dir: Path, title: str, panels: tuple[Panel, ...]) -> None:
    report.plot_panels(report.read_metrics(run_dir / "metrics.jsonl"), run_dir / "loss.png",
                       panels)
    report.write_index(run_dir, title)


def sub_run(cfg: LoopConfig, steps: int, lr: float, spent_minutes: float = 0.0) -> LoopConfig:
    """`cfg` for one run of a recipe made of several (a lip prior's own run, an editor's phase
    sub-runs): its steps and learning rate, a warm-up and checkpoint interval that fit them,
    and what is left of the whole recipe's time budget after `spent_minutes`."""
    budget = max(cfg.max_minutes - spent_minutes, 1e-3) if cfg.max_minutes else 0.0
    return replace(cfg, steps=steps, lr=lr, warmup=min(cfg.warmup, max(1, steps // 10)),
                   max_minutes=budget, ckpt_every=min(cfg.ckpt_every, steps))


def load_final_weights(model: nn.Module, run_dir: str | Path) -> nn.Module:
    """Load the newest checkpoint's EMA weights (its weights when it has no EMA) into `model`:
    what every trainer exports. Entries the checkpoint lacks keep the model's values."""
    ckpt = load_checkpoint(latest_checkpoint(Path(run_dir) / "checkpoints"))
    model.load_state_dict({**model.state_dict(), **(ckpt.ema or ckpt.model)})
    return model


def run(
    cfg: LoopConfig,
    run_dir: str | Path,
    model: nn.Module,
    step_fn: StepFn,
    batches: BatchSource,
    *,
    run_config: Any | None = None,
    sample_fn: SampleFn | None = None,
    generators: dict[str, torch.Generator] | None = None,
    title: str = "xdub training run",
    panels: tuple[Panel, ...] = LOSS_PANELS,
) -> LoopResult:
    """Train `model` up to `cfg.steps` optimiser steps, resuming from `run_dir/checkpoints`."""
    run_dir = Path(run_dir)
    torch.set_num_threads(cfg.num_threads)
    if cfg.gradient_checkpointing:  # every submodule that supports it (the DiT's blocks)
        for module in model.modules():
            if hasattr(module, "enable_gradient_checkpointing"):
                module.enable_gradient_checkpointing(True)
    process_state()  # forms the process group (gloo on CPU) before the Accelerator
    accelerator = Accelerator(cpu=use_cpu(), mixed_precision=cfg.mixed_precision)
    check_strategy(accelerator)
    sharded = fsdp.requested(accelerator.distributed_type.value) and accelerator.num_processes > 1
    _prepare_run_dir(run_dir, run_config, accelerator.is_main_process)
    latest = latest_checkpoint(run_dir / "checkpoints")
    ckpt = load_checkpoint(latest) if latest is not None else None
    if ckpt is not None:  # whole weights first: FSDP shards them next
        model.load_state_dict(ckpt.model)
    if sharded:  # on its device first: accelerate.prepare, which would move it, is skipped
        fsdp.shard_model(model.to(accelerator.device))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))
    state = _State(model, optimizer, scheduler, EMA(model, cfg.ema_decay), generators or {},
                   sharded=sharded)
    if ckpt is not None:
        state.restore(ckpt)
        state.step = ckpt.step
        log.info("resumed from %s (step %d)", latest, state.step)
    resumed_from = state.step
    if sharded:  # already sharded: accelerate must not wrap it in DDP
        prepared, prepared_opt = model, optimizer
    else:
        prepared, prepared_opt = accelerator.prepare(model, optimizer)
    loop = _Loop(cfg, run_dir, accelerator, state, prepared, prepared_opt, step_fn, sample_fn,
                 (title, panels))
    return loop.train(batches, resumed_from)


class _Loop:
    """The step loop of one `run` call (split out to keep functions short)."""

    def __init__(self, cfg: LoopConfig, run_dir: Path, accelerator: Accelerator, state: _State,
                 model: nn.Module, optimizer: torch.optim.Optimizer, step_fn: StepFn,
                 sample_fn: SampleFn | None, report_spec: tuple[str, tuple[Panel, ...]]) -> None:
        self.cfg, self.run_dir, self.acc, self.state = cfg, run_dir, accelerator, state
        self.model, self.optimizer, self.step_fn = model, optimizer, step_fn
        self.sample_fn, self.report_spec = sample_fn, report_spec
        self.params = [p for p in state.model.parameters() if p.requires_grad]
        self.last_loss = float("nan")
        self.saved_at = state.step
        self.saved_from = state.step
        self.sampled_at = -1

    @property
    def consumed(self) -> int:
        return self.state.step * self.cfg.grad_accum

    def train(self, batches: BatchSource, resumed_from: int) -> LoopResult:
        cfg, state = self.cfg, self.state
        iterator = iter(batches(self.consumed))
        clock = time.process_time if cfg.budget_clock == "cpu" else time.monotonic
        start_time = clock()
        stopped = "done"
        bar = tqdm(total=cfg.steps, initial=state.step, desc="train", dynamic_ncols=True,
                   disable=not self.acc.is_main_process)
        try:
            while state.step < cfg.steps:
                if cfg.max_minutes and clock() - start_time > cfg.max_minutes * 60:
                    stopped = "budget"
                    break
                tic = time.monotonic()
                loss, logs, grad_norm = self._optimizer_step(iterator)
                self.last_loss = loss
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}")
                self._after_step(logs, loss, grad_norm, time.monotonic() - tic)
        except KeyboardInterrupt:
            if self._save():
                self._refresh()
            bar.close()
            raise
        bar.close()
        self._finish()
        return LoopResult(state.step, stopped, resumed_from, self.last_loss)

    def _optimizer_step(self, iterator: Any) -> tuple[float, dict[str, float], float]:
        cfg, acc = self.cfg, self.acc
        self.model.train()
        total, sums = 0.0, {}
        for micro in range(cfg.grad_accum):
            batch = next(iterator)
            inner = (micro < cfg.grad_accum - 1 and acc.num_processes > 1
                     and not self.state.sharded)  # FSDP syncs every micro-batch
            sync = acc.no_sync(self.model) if inner else contextlib.nullcontext()
            with sync, acc.autocast():
                loss, logs = self.step_fn(self.model, batch)
                acc.backward(loss / cfg.grad_accum)
            total += float(loss.detach()) / cfg.grad_accum
            for key, value in logs.items():
                sums[key] = sums.get(key, 0.0) + float(value) / cfg.grad_accum
        if acc.num_processes > 1:  # the logged loss is the global batch's (logs stay local)
            total = float(acc.reduce(torch.tensor([total]), reduction="mean")[0])
        if self.state.sharded:
            grad_norm = fsdp.clip_gradients(self.params, cfg.grad_clip)
        elif cfg.grad_clip > 0:
            grad_norm = float(acc.clip_grad_norm_(self.params, cfg.grad_clip))
        else:
            grads = [p.grad.norm() for p in self.params if p.grad is not None]
            grad_norm = float(torch.stack(grads).norm()) if grads else 0.0
        self.optimizer.step()
        self.state.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.ema.update(self.state.model, self.state.step)
        self.state.step += 1
        return total, sums, grad_norm

    def _after_step(self, logs: dict[str, float], loss: float, grad_norm: float,
                    seconds: float) -> None:
        cfg, step = self.cfg, self.state.step
        if self.acc.is_main_process and (step % cfg.log_every == 0 or step == cfg.steps):
            row = {"step": step, "loss": loss, "lr": self.state.scheduler.get_last_lr()[0],
                   "grad_norm": grad_norm, "sec_per_step": seconds, **logs}
            report.append_metrics(self.run_dir / "metrics.jsonl", row)
        wrote = self._save() if step % cfg.ckpt_every == 0 else False
        if cfg.sample_every and step % cfg.sample_every == 0:
            wrote = self._sample() or wrote
        if wrote:
            self._refresh()

    def _refresh(self) -> None:
        """Redraw loss.png and index.html (process 0; once per checkpoint and/or sample)."""
        if self.acc.is_main_process:
            _refresh_report(self.run_dir, *self.report_spec)

    def _save(self) -> bool:
        """Checkpoint the current step (once); True when one was written."""
        if self.saved_at == self.state.step and latest_checkpoint(self.run_dir / "checkpoints"):
            return False
        self.acc.wait_for_everyone()
        if self.acc.is_main_process or self.state.sharded:  # FSDP: all gather, process 0 writes
            ckpt = self.state.checkpoint(self.consumed)
            if self.acc.is_main_process:
                save_checkpoint(self.run_dir / "checkpoints", ckpt, keep=self.cfg.keep_checkpoints)
        self.saved_at = self.state.step
        return True

    def _sample(self) -> bool:
        """Samples of the EMA model at the current step (once); True when written."""
        if self.sample_fn is None or self.sampled_at == self.state.step or self.state.sharded:
            return False  # FSDP: no process holds whole weights; sample the exported ones
        if self.acc.is_main_process:
            folder = self.run_dir / "samples" / f"step_{self.state.step:08d}"
            folder.mkdir(parents=True, exist_ok=True)
            with torch.no_grad():
                self.sample_fn(_ema_model(self.state), self.state.step, folder)
        self.sampled_at = self.state.step
        return True

    def _finish(self) -> None:
        self._save()
        if self.state.step > self.saved_from:  # a rerun of a finished run trains nothing new
            self._sample()
        self._refresh()
        self.acc.wait_for_everyone()
