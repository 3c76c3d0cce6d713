"""Speed of the procedural talking-character renderer, single thread (figures are per core).

Prints, for 128, 256 and 512 px square clips of the `standard` scenario:
  render fps    frames/s of the per-frame loop (sprite copy, face parts, warp, composite,
                occluders, lighting, ground truth) -- the figure the >= 150 fps target is about
  clip fps      frames/s including per-clip setup (scene, sprite, speech, mouth track)
  +encode fps   frames/s of render + H.264/AAC encode to a temp .mp4 (xdub.media.VideoWriter)
Times are CPU seconds of this process (`time.process_time`), so the figures stay per-core on
a busy machine; the encoder's own threads count too.
Usage: python benchmarks/synth_speed.py [--seconds 4] [--clips 3] [--scenario standard]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2

from xdub.config import replace
from xdub.synth.clip import plan_clips
from xdub.synth.export import export_plan
from xdub.synth.scenarios import get_scenario


def _measure(scenario: str, size: int, seconds: float, clips: int, out_dir: str) -> dict:
    cfg = replace(get_scenario(scenario), size=(size, size), duration=seconds)
    frames = render_s = clip_s = encode_s = 0.0
    for seed in range(clips):
        t0 = time.process_time()
        plan = plan_clips(seed, cfg)[0]
        t1 = time.process_time()
        for _frame, _truth in plan.frames():
            frames += 1
        t2 = time.process_time()
        export_plan(plan, out_dir, f"bench_{size}_{seed}")
        t3 = time.process_time()
        render_s += t2 - t1
        clip_s += t2 - t0
        encode_s += (t3 - t2) + (t1 - t0)
    return {"size": size, "render_fps": frames / render_s, "clip_fps": frames / clip_s,
            "encode_fps": frames / encode_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="clip length")
    parser.add_argument("--clips", type=int, default=3, help="clips (seeds) per size")
    parser.add_argument("--scenario", default="standard")
    parser.add_argument("--sizes", default="128,256,512")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    print(f"scenario={args.scenario} clips={args.clips} x {args.seconds}s, 1 thread")
    print(f"{'size':>6} {'render fps':>11} {'clip fps':>9} {'+encode fps':>12}")
    with tempfile.TemporaryDirectory() as out_dir:
        for size in (int(s) for s in args.sizes.split(",")):
            r = _measure(args.scenario, size, args.seconds, args.clips, out_dir)
            print(f"{size:>6} {r['render_fps']:>11.0f} {r['clip_fps']:>9.0f} "
                  f"{r['encode_fps']:>12.0f}")


if __name__ == "__main__":
    main()
