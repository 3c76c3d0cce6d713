"""Seconds per stage and frames/s of `xdub dub` (the pipeline as a black box) on a 10-s clip.

Usage:
    python benchmarks/pipeline.py [--seconds 10] [--size 320x240] [--fps 30] [--steps N]
                                  [--checkpoint DIR | --random-init] [--threads 1] [--json f]

The clip is rendered by the synthetic engine (a talking character with its own speech) and
dubbed with another speech track of the same length, file to file (decode, track, generate,
paste back, encode), exactly as the CLI does. Model: the embedded default checkpoint when the
package ships one, else a randomly initialised tiny model (then the numbers measure the
machinery, not a trained model's quality). Prints a table; --json writes the figures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from xdub.config.infer import InferConfig, SamplingConfig
from xdub.config.synth import SynthConfig
from xdub.synth.clip import render_pair
from xdub.media import iter_frames, probe, read_audio, write_video, write_wav
from xdub.pipeline import FileSink, FileSource, load_pipeline
from xdub.pipeline.loading import default_checkpoint


def make_clip(folder: Path, seconds: float, size: tuple[int, int], fps: float) -> tuple[Path, Path]:
    """Render (video with speech A, speech B) of `seconds` into `folder`."""
    a, b = render_pair(0, SynthConfig(size=size, fps=fps, duration=seconds))
    video = write_video(folder / "clip.mp4", a.frames, fps, audio=a.audio)
    return video, write_wav(folder / "speech.wav", b.audio)


def run(args: argparse.Namespace) -> dict:
    """Dub the clip once; return the summary's figures."""
    torch.set_num_threads(args.threads)
    size = tuple(int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        begin = time.perf_counter()
        video, audio = make_clip(folder, args.seconds, size, args.fps)
        render_s = time.perf_counter() - begin
        random_init = args.random_init or (args.checkpoint is None and default_checkpoint() is None)
        begin = time.perf_counter()
        pipe = load_pipeline(args.checkpoint, random_init=random_init, device=args.device)
        load_s = time.perf_counter() - begin
        cfg = InferConfig(sampling=SamplingConfig(steps=args.steps))
        begin = time.perf_counter()
        result = pipe(FileSource(video), read_audio(audio, sample_rate=48_000), cfg,
                      output=FileSink(folder / "out.mp4", inputs=[video, audio]))
        wall_s = time.perf_counter() - begin
        info = probe(folder / "out.mp4")
        seams = seam_ratio(folder / "out.mp4", result)
    summary = result.summary
    return {
        "model": summary.model, "device": str(pipe.generator.device)
        if hasattr(pipe.generator, "device") else "cpu",
        "threads": args.threads, "size": list(size), "fps": args.fps, "seconds": args.seconds,
        "frames": summary.output_frames, "chunks": summary.chunks, "steps": summary.steps,
        "out_size": [info.width, info.height], "out_frames": info.num_frames,
        "render_s": render_s, "load_s": load_s, "wall_s": wall_s,
        "frames_per_s": summary.output_frames / wall_s, "stages_s": summary.seconds,
        "seam_ratio": seams,
    }


def seam_ratio(path: Path, result) -> float:
    """Mean lower-face frame difference at chunk boundaries / within chunks (1 = no seam).

    Boundary = the first frame a chunk finalises after the previous chunk's frames (where a
    hard cut between two generations would show); the region is the lower half of the face box.
    """
    table, timeline = result.faces, result.timeline
    boundaries = {c.start for c in result.chunks if c.index > 0}
    boundaries |= {c.keep_until for c in result.chunks if c.keep_until < c.stop}
    at, within, previous = [], [], None
    for k, frame in enumerate(iter_frames(path)):
        row = table.row(int(timeline.source_index[k]))
        current = frame.astype(np.float32)
        if row is not None and previous is not None:
            x0, y0, x1, y1 = np.round(table.boxes[row]).astype(int)
            y0 = (y0 + y1) // 2
            region = (slice(max(y0, 0), max(y1, 0)), slice(max(x0, 0), max(x1, 0)))
            diff = float(np.abs(current[region] - previous[region]).mean())
            (at if k in boundaries else within).append(diff)
        previous = current
    return float(np.mean(at) / np.mean(within)) if at and within else float("nan")


def print_table(r: dict) -> None:
    """Human-readable figures."""
    print(f"model {r['model']} on {r['device']} ({r['threads']} thread(s)); clip "
          f"{r['size'][0]}x{r['size'][1]} @ {r['fps']:g} fps, {r['seconds']:g} s = {r['frames']} "
          f"frames; {r['chunks']} chunks x {r['steps']} steps")
    print(f"{'stage':<12}{'seconds':>10}{'ms/frame':>12}")
    for stage, secs in r["stages_s"].items():
        print(f"{stage:<12}{secs:>10.2f}{1000 * secs / r['frames']:>12.1f}")
    print(f"{'total':<12}{r['wall_s']:>10.2f}{1000 * r['wall_s'] / r['frames']:>12.1f}"
          f"   -> {r['frames_per_s']:.2f} frames/s (model load {r['load_s']:.1f} s)")
    print(f"seam ratio (lower-face frame difference at chunk boundaries / within chunks): "
          f"{r['seam_ratio']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", default="320x240", help="WIDTHxHEIGHT")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--steps", type=int, default=None, help="default: the checkpoint's")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--random-init", action="store_true")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = run(args)
    print_table(result)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
