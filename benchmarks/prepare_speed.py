"""`xdub prepare` throughput: kept clips per minute at 256 px and 512 px crops.

The raw input is made here: a 640x360 25 fps video of `--shots` hard-cut shots of synthetic
talking characters (`--shot-seconds` each, H.264 + AAC), prepared into clips of the shot length (one per
shot, a little shorter for the frames trimmed at cuts) with every step on: decode, scene cuts, face detection + tracking, aligned crops, sync
offset search, quality scores, shard writing. The HTML report is timed apart (once per run).
Usage: python benchmarks/prepare_speed.py [--threads 2] [--sizes 256 512]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from xdub.config.face import FACE_PRESETS
from xdub.config.prepare import PrepareConfig, SegmentRules
from xdub.config.synth import SCENARIOS
from xdub.data.prepare import run_prepare
from xdub.media import write_video
from xdub.sharding import Worker
from xdub.synth.clip import render_clip
from xdub.types import Audio


def make_raw_video(path: Path, shots: int, seconds: float) -> None:
    """Hard-cut synthetic shots at 640x360 with their own speech."""
    cfg = replace(SCENARIOS["standard"], size=(640, 360), duration=seconds)
    clips = [render_clip(1000 + k, cfg) for k in range(shots)]
    audio = Audio(np.concatenate([c.audio.samples for c in clips]), clips[0].audio.sample_rate)
    write_video(path, np.concatenate([c.frames for c in clips]), cfg.fps, audio)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--shots", type=int, default=4)
    parser.add_argument("--shot-seconds", type=float, default=5.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.mp4"
        make_raw_video(raw, args.shots, args.shot_seconds)
        for size in args.sizes:
            face = replace(FACE_PRESETS["wan5b"], align=replace(FACE_PRESETS["wan5b"].align,
                                                               crop_size=size))
            cfg = PrepareConfig(segment=SegmentRules(clip_seconds=args.shot_seconds,
                                                     min_clip_seconds=args.shot_seconds / 2),
                                face=face)
            begin = time.perf_counter()
            summary = run_prepare([raw], Path(tmp) / f"out{size}", cfg, Worker(), report=False)
            seconds = time.perf_counter() - begin
            print(f"{size} px: {summary.kept} clips kept of {args.shots} shots in {seconds:.1f} s"
                  f" -> {summary.kept / seconds * 60:.1f} clips/min "
                  f"({args.shots * args.shot_seconds / seconds:.2f} s of raw video per second; "
                  f"{args.threads} threads; rejected {summary.rejected or 'none'})")


if __name__ == "__main__":
    main()
