"""The full-scale scripts run without an accelerator: the GPU check's CPU dry run, the memory
plan, and every DiT preset on the CPU in each dtype."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from xdub.config.model import MODEL_PRESETS
from xdub.models import DiTConditioning, build_dit
from xdub.pipeline.loading import resolve_device, resolve_dtype

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_dry_run_on_cpu(tmp_path):
    out = tmp_path / "check.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    run = subprocess.run([str(ROOT / "scripts" / "gpu_check.sh"), "--device", "cpu", "--dtype",
                          "bfloat16", "--preset", "reduced", "--steps", "1", "--json", str(out)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["device"] == "cpu" and result["dtype"] == "torch.bfloat16"
    assert [r["option"] for r in result["rows"]] == [
        "3 streams batched", "3 streams sequential", "sequential + VAE tiling",
        "sequential + tiling + offload"]
    assert all(r["s_per_step"] > 0 and r["peak_mib"] > 0 for r in result["rows"])
    assert "s/step" in run.stdout


def test_memory_plan_counts_the_release_and_options_only_help():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import memory_plan

    counts = memory_plan.weight_counts("wan5b")
    assert 6.0e9 < counts["dit"] < 6.5e9 and 0.6e9 < counts["whisper"] < 0.7e9
    peaks = [memory_plan.plan("wan5b", 77, o)["peak"] for o in memory_plan.OPTIONS]
    assert all(a >= b for a, b in zip(peaks, peaks[1:]))
    assert 18 < peaks[1] < 23  # bf16, all resident: the release's ~21 GB
    offload = memory_plan.OPTIONS[-1]
    assert offload.phase_offload and offload.available  # load_pipeline(offload="cpu")
    assert memory_plan.plan("wan5b", 77, offload)["peak"] < 16 * 0.93


@pytest.mark.parametrize("preset", sorted(MODEL_PRESETS))
@pytest.mark.parametrize("dtype_name", ["float32", "bfloat16"])
def test_every_preset_runs_on_cpu_in_each_dtype(preset, dtype_name):
    device = resolve_device("cpu")
    dtype = resolve_dtype(dtype_name, device)
    config = dataclasses.replace(MODEL_PRESETS[preset], num_layers=1)  # full width, one block
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        model = build_dit(config, device=device, seed=0).eval()
    finally:
        torch.set_default_dtype(previous)
    gen = torch.Generator().manual_seed(0)
    c = config.latent_channels
    cond = DiTConditioning(source_latents=torch.randn(1, c, 1, 4, 4, generator=gen),
                           audio_features=torch.randn(1, 1, 8, config.audio_dim, generator=gen))
    with torch.no_grad(), model.constant_inputs():
        out = model(torch.randn(1, c, 1, 4, 4, generator=gen), torch.tensor([500.0]), cond)
    assert out.dtype == dtype and out.device.type == "cpu" and torch.isfinite(out).all()
