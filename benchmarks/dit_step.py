"""Time and peak memory of one DiT denoising step: 1 stream, 3 guidance streams batched, and
3 guidance streams as sequential forwards.

Each case runs in a fresh subprocess so its peak memory is its own: on CPU the peak resident
set size growth over the loaded model (ru_maxrss), on an accelerator the allocator's peak.
Usage: python benchmarks/dit_step.py [--presets tiny small] [--device cpu] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch

from xdub.models import DiTConditioning, build_dit

# Latent clip per preset: (frames, height, width); 16 channels come from the preset.
SHAPES = {"tiny": (5, 16, 16), "small": (5, 32, 32), "wan5b": (20, 32, 32)}
MODES = ("1-stream", "3-batched", "3-sequential")


def _inputs(model, batch: int, shape: tuple[int, int, int], device: torch.device, dtype):
    """Random (noisy, timestep, cond) for `batch` streams of one clip."""
    c = model.config
    frames, height, width = shape
    gen = torch.Generator().manual_seed(0)

    def rand(*size):
        return torch.randn(*size, generator=gen).to(device=device, dtype=dtype)

    cond = DiTConditioning(
        source_latents=rand(batch, c.cond_channels or c.latent_channels, frames, height, width),
        motion_latents=rand(batch, c.latent_channels, 1, height, width),
        audio_features=rand(batch, frames, 8, c.audio_dim) if c.audio_dim else None,
    )
    noisy = rand(batch, c.latent_channels, frames, height, width)
    return noisy, torch.full((batch,), 500.0, device=device), cond


def _peak_bytes(device: torch.device) -> int:
    if device.type == "cpu":
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    return torch.accelerator.max_memory_allocated(device)


def run_case(preset: str, mode: str, device_name: str, threads: int, repeats: int) -> dict:
    """One (preset, mode) measurement in this process: median step seconds, peak MiB."""
    torch.set_num_threads(threads)
    device = torch.device(device_name)
    dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    model = build_dit(preset, device=device, dtype=dtype, seed=0).eval()
    batch = 1 if mode == "1-stream" else 3
    noisy, t, cond = _inputs(model, batch, SHAPES[preset], device, dtype)
    single = [_inputs(model, 1, SHAPES[preset], device, dtype) for _ in range(batch)]

    def step():
        if mode == "3-sequential":
            return [model(*args) for args in single]
        return model(noisy, t, cond)

    # CPU: growth of the peak RSS over "model + inputs loaded"; accelerator: allocator peak.
    base = _peak_bytes(device) if device.type == "cpu" else 0
    if device.type != "cpu":
        torch.accelerator.reset_peak_memory_stats(device)
    with torch.no_grad():
        step()  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            step()
            if device.type != "cpu":
                torch.accelerator.synchronize(device)
            times.append(time.perf_counter() - start)
    peak = _peak_bytes(device) - base
    tokens = 2 * SHAPES[preset][0] * SHAPES[preset][1] * SHAPES[preset][2] // 4
    return {"preset": preset, "mode": mode, "tokens": tokens,
            "step_s": statistics.median(times), "peak_mib": peak / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"], choices=sorted(SHAPES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case, print JSON
    args = parser.parse_args()
    if args.case:
        preset, mode = args.case.split(":")
        print(json.dumps(run_case(preset, mode, args.device, args.threads, args.repeats)))
        return
    rows = []
    for preset in args.presets:
        for mode in MODES:
            cmd = [sys.executable, __file__, "--case", f"{preset}:{mode}", "--device", args.device,
                   "--threads", str(args.threads), "--repeats", str(args.repeats)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
    print(f"device={args.device} threads={args.threads} (median of {args.repeats} steps)")
    print(f"{'preset':7} {'mode':13} {'tokens/stream':>13} {'step s':>8} {'per stream s':>12} "
          f"{'peak MiB':>9}")
    for r in rows:
        streams = 1 if r["mode"] == "1-stream" else 3
        print(f"{r['preset']:7} {r['mode']:13} {r['tokens']:13d} {r['step_s']:8.3f} "
              f"{r['step_s'] / streams:12.3f} {r['peak_mib']:9.1f}")


if __name__ == "__main__":
    main()
