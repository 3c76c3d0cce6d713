"""Generic training loop: run-dir files, checkpoint cadence, resume after interruption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from xdub.config import replace
from xdub.config.train import LoopConfig
from xdub.train.checkpointing import latest_checkpoint, list_checkpoints
from xdub.train.loop import lr_factor, run


def _toy_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))


def _batches(consumed: int):
    """Deterministic endless stream: batch k depends only on k (resumable)."""
    k = consumed
    while True:
        gen = torch.Generator().manual_seed(k)
        x = torch.randn(8, 4, generator=gen)
        yield x, x.sum(dim=1, keepdim=True)
        k += 1


def _make_step_fn(noise: torch.Generator, crash_at: int | None = None, calls: list | None = None):
    def step_fn(model, batch):
        if calls is not None:
            calls.append(1)
            if crash_at is not None and len(calls) == crash_at:
                raise KeyboardInterrupt
        x, y = batch
        # Uses a generator owned by the stage: its state must survive a resume.
        jitter = 0.01 * torch.randn(x.shape, generator=noise)
        loss = (model(x + jitter) - y).square().mean()
        return loss, {"mse": float(loss.detach())}
    return step_fn


CFG = LoopConfig(steps=8, batch_size=8, lr=1e-2, warmup=2, ckpt_every=3, log_every=1,
                 sample_every=4, keep_checkpoints=2, ema_decay=0.9)


def _train(run_dir: Path, crash_at: int | None = None, steps: int = 8):
    model = _toy_model()
    gen = torch.Generator().manual_seed(1)
    samples: list[int] = []
    cfg = replace(CFG, steps=steps)
    result = run(cfg, run_dir, model, _make_step_fn(gen, crash_at, [] if crash_at else None),
                 _batches, run_config=cfg, generators={"noise": gen},
                 sample_fn=lambda m, step, folder: (samples.append(step),
                                                    (folder / "x.png").write_bytes(b"")))
    return model, result, samples


def test_run_dir_contents_and_checkpoint_cadence(tmp_path):
    _, result, samples = _train(tmp_path)
    assert result.stopped == "done" and result.step == 8 and result.resumed_from == 0
    for name in ("config.yaml", "git_sha.txt", "metrics.jsonl", "loss.png", "index.html"):
        assert (tmp_path / name).is_file(), name
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert all(r["mse"] > 0 and r["lr"] > 0 for r in rows)
    steps = [s for s, _ in list_checkpoints(tmp_path / "checkpoints")]
    assert steps == [6, 8]  # every 3 steps + the end, only the newest 2 kept
    assert samples == [4, 8]
    assert "samples/step_00000004/x.png" in (tmp_path / "index.html").read_text()


def test_resume_after_interruption_matches_uninterrupted_run(tmp_path):
    reference, _, _ = _train(tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "broken", crash_at=5)  # dies inside step 5
    ckpt = latest_checkpoint(tmp_path / "broken" / "checkpoints")
    assert ckpt is not None and ckpt.name == "step_00000004"  # Ctrl-C saves the last full step
    resumed, result, _ = _train(tmp_path / "broken")
    assert result.resumed_from == 4 and result.step == 8
    for a, b in zip(reference.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_resume_at_saved_step_after_hard_kill(tmp_path):
    _train(tmp_path, steps=3)  # a run that stopped at its checkpoint (as after a kill)
    _, result, _ = _train(tmp_path, steps=5)
    assert result.resumed_from == 3 and result.step == 5
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5]


def test_lr_schedule_warmup_then_cosine():
    cfg = LoopConfig(steps=100, warmup=10, lr=1.0, min_lr_ratio=0.1)
    assert lr_factor(0, cfg) == pytest.approx(0.1)
    assert lr_factor(9, cfg) == pytest.approx(1.0)
    assert lr_factor(100, cfg) == pytest.approx(0.1)
    assert lr_factor(55, cfg) == pytest.approx(0.55)
