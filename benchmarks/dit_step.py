"""Time and peak memory of one DiT denoising step: 1 stream, 3 guidance streams batched, and
3 guidance streams as sequential forwards.

Each case runs in a fresh subprocess so its peak memory is its own: on CPU the peak resident
set size growth over the loaded model (ru_maxrss), on an accelerator the allocator's peak.
Usage: python benchmarks/dit_step.py [--presets tiny small] [--device cpu] [--threads 2]

With `--official-repo PATH` it instead times one guided step (3 streams batched) of the
official X-Dub model and of ours side by side in one process, at Wan-5B width with
`--blocks` blocks and shared random weights, interleaved; it prints the median time ratio
and the largest relative difference of the outputs.
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


def vs_official(repo: str, blocks: int, repeats: int, threads: int,
                device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                latent: tuple[int, int, int] = (3, 16, 16), base=None) -> dict:
    """Median step time of ours / official (interleaved runs) and the output difference, at
    the width of `base` (default wan5b) with `blocks` blocks, latents `latent` (F', h, w)."""
    import dataclasses
    import pathlib

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    import official_side
    import vs_official as harness

    from xdub.config.model import MODEL_PRESETS

    torch.set_num_threads(threads)
    torch.set_grad_enabled(False)
    device = torch.device(device)
    off = official_side.import_official(repo)
    cfg = dataclasses.replace(base or MODEL_PRESETS["wan5b"], num_layers=blocks)
    theirs = official_side.build_dit(off, cfg, seed=0, device=device, dtype=dtype)
    gen = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=gen).to(device=device, dtype=dtype)

    context = rand(1, cfg.null_context_len, cfg.text_dim)
    ours = harness.our_dit(theirs, cfg, context, dtype=dtype)
    x = rand(1, cfg.latent_channels, *latent)
    source = rand(1, cfg.latent_channels, *latent)
    audio = rand(1, latent[0], 8, cfg.audio_dim)
    t = torch.tensor([700.0], device=device)
    zeros = torch.zeros_like
    streams = dict(ref_latents=torch.cat([zeros(source), source, source]),
                   audio_feats=torch.cat([zeros(audio), zeros(audio), audio]),
                   context=torch.cat([context] * 3))
    cond = DiTConditioning(source_latents=streams["ref_latents"],
                           audio_features=streams["audio_feats"])

    def official_step():
        return off.pipeline.model_fn_wan_video(dit=theirs, latents=x, timestep=t, **streams)

    def our_step():
        return ours(x.expand(3, -1, -1, -1, -1), t, cond)

    times = {"official": [], "xdub": []}
    with ours.constant_inputs():  # entered once per chunk by the sampler
        outputs = {"official": official_step(), "xdub": our_step()}  # warm-up
        for _ in range(repeats):
            for name, step in (("official", official_step), ("xdub", our_step)):
                start = time.perf_counter()
                step()
                if device.type != "cpu":
                    torch.accelerator.synchronize(device)
                times[name].append(time.perf_counter() - start)
    ratios = [a / b for a, b in zip(times["xdub"], times["official"])]
    official_out, our_out = outputs["official"].double(), outputs["xdub"].double()
    diff = (our_out - official_out).abs().max() / official_out.abs().max()
    return {"blocks": blocks, "official_s": statistics.median(times["official"]),
            "xdub_s": statistics.median(times["xdub"]), "ratio": statistics.median(ratios),
            "ratios": [round(r, 3) for r in ratios], "max_rel_diff": float(diff)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "small"], choices=sorted(SHAPES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case, print JSON
    parser.add_argument("--official-repo", help="time one guided step against the official model")
    parser.add_argument("--blocks", type=int, default=1, help="DiT blocks with --official-repo")
    args = parser.parse_args()
    if args.official_repo:
        result = vs_official(args.official_repo, args.blocks, args.repeats, args.threads)
        print(json.dumps(result))
        print(f"step time xdub / official: {result['ratio']:.2f}x (median of {args.repeats} "
              f"interleaved runs), max rel. diff {result['max_rel_diff']:.1e}")
        return
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
