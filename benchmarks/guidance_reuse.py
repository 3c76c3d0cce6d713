"""Guidance reuse (`diffusion.guidance_reuse_from`): quality vs DiT evaluations.

From a fraction of the steps on, every other step runs only the ref+audio stream and adds the
previous step's guidance correction. This dubs one synthetic clip with the embedded default
(CPU, its own step count) at several settings and compares each output with the full-guidance
one: DiT evaluations (samples through the network), seconds, PSNR and max pixel difference.

    python benchmarks/guidance_reuse.py [--seconds 2] [--steps 8] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

from xdub.config.infer import InferConfig, SamplingConfig, TimelineConfig
from xdub.config.synth import SynthConfig
from xdub.pipeline import load_pipeline
from xdub.synth.clip import render_pair
from xdub.types import Video

SETTINGS = (1.0, 0.75, 0.5, 0.25, 0.0)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    a, b = render_pair(0, SynthConfig(size=(320, 240), fps=25.0, duration=args.seconds))
    video = Video(a.frames, 25.0, a.audio)
    pipe = load_pipeline(device="cpu")
    gen = pipe.generator
    evaluations = [0]
    gen.dit.register_forward_pre_hook(lambda _m, inputs: evaluations.__setitem__(
        0, evaluations[0] + int(inputs[0].shape[0])))
    base_sampler = gen.sampler
    cfg = InferConfig(sampling=SamplingConfig(steps=args.steps),
                      timeline=TimelineConfig(length="video"))
    reference = None
    print("| reuse from | DiT evaluations | seconds | PSNR vs full (dB) | max diff |")
    print("|---|---|---|---|---|")
    for frac in SETTINGS:
        gen.sampler = replace(base_sampler, diffusion=replace(base_sampler.diffusion,
                                                              guidance_reuse_from=frac))
        evaluations[0] = 0
        start = time.perf_counter()
        out = pipe(video, b.audio, cfg).video.frames
        seconds = time.perf_counter() - start
        reference = out if reference is None else reference
        diff = int(np.abs(out.astype(int) - reference.astype(int)).max())
        print(f"| {frac:g} | {evaluations[0]} | {seconds:.1f} | {psnr(out, reference):.1f} | "
              f"{diff} |", flush=True)


if __name__ == "__main__":
    main()
