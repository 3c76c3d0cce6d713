"""Peak resident memory of `xdub dub` on a short and long videos: streaming means the long
ones need (almost) no more memory than the short one.

Each clip is rendered to files first (long clips: an 8 s synthetic pair played back and forth,
its speech tiled); each dub then runs file to file in a fresh process through the same API
call as `xdub dub` (`DubbingPipeline`: input checks, silence check, lip-sync probe, output
file with its audio track) and reports its own peak RSS, so rendering never counts. The peak
is VmHWM (/proc/self/status), not `getrusage`'s ru_maxrss: Linux carries ru_maxrss across
fork + exec, so a child started by a parent that had just rendered 48 s of frames reported
the parent's ~1.5 GiB as its own. Tiny scale (embedded default), CPU, 1 sampling step (memory
does not depend on the step count).

Each clip's line also gives the resident memory at the start of face tracking and of the
dubbing pass and its largest sampled value within each (every 25 frames), and at the end.

`--generator copy` keeps the whole pipeline (decode, face tracking, audio decode + features +
per-chunk windows, chunking, paste-back, encode, mux, sync probe) but returns each chunk's
crops unchanged instead of running the DiT and codec, so a 10-minute video takes minutes, not
an hour, on 2 cores. What it measures is what grows with length; the model's own working set
(the same for every chunk) is measured by the default `--generator model` on a short clip.

    python benchmarks/streaming_rss.py [--seconds 8 48] [--generator model|copy] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

PIECE_SECONDS = 8.0  # rendered once; longer clips play it back and forth


def render(folder: Path, seconds: float) -> tuple[Path, Path]:
    """Video (speech A) and a second speech track of `seconds`, 320x240 at 25 fps."""
    from xdub.config.synth import SynthConfig
    from xdub.media import VideoWriter, write_wav
    from xdub.synth.clip import render_pair
    from xdub.types import Audio

    piece = min(seconds, PIECE_SECONDS)
    a, b = render_pair(0, SynthConfig(size=(320, 240), fps=25.0, duration=piece))
    total = round(seconds * 25.0)
    order = np.concatenate([np.arange(len(a.frames)), np.arange(len(a.frames))[::-1]])
    rate = b.audio.sample_rate
    reps = int(np.ceil(seconds / piece)) + 1
    audio_a = Audio(np.tile(a.audio.samples, reps)[:round(seconds * rate)], rate)
    audio_b = Audio(np.tile(b.audio.samples, reps)[:round(seconds * rate)], rate)
    video = folder / f"clip_{seconds:g}.mp4"
    with VideoWriter(video, 25.0, (320, 240), audio=audio_a) as writer:
        for k in range(total):
            writer.write(a.frames[order[k % len(order)]])
    return video, write_wav(folder / f"speech_{seconds:g}.wav", audio_b)


def peak_rss_mib(field: str = "VmHWM") -> float:
    """This process's peak resident memory since its exec (VmHWM), or its resident memory now
    (`field="VmRSS"`), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


class StageMemory:
    """A `Progress` noting the resident memory when each stage starts and its peak within
    every stage (sampled every 25 units of work)."""

    def __init__(self) -> None:
        self.stages: list[dict] = []
        self.units = 0

    def start(self, stage: str, total: int | None) -> None:
        rss = peak_rss_mib("VmRSS")
        self.stages.append({"stage": stage, "start_mib": round(rss), "max_mib": round(rss)})

    def advance(self, units: int = 1) -> None:
        self.units += units
        if self.units % 25 < units and self.stages:
            self.finish()

    def finish(self) -> None:
        if self.stages:
            last = self.stages[-1]
            last["max_mib"] = max(last["max_mib"], round(peak_rss_mib("VmRSS")))


class CopyGenerator:
    """The loaded model's audio path (features, per-chunk windows) with crops returned as they
    came: the pipeline around the model at a fraction of its cost."""

    name = "copy"

    def __init__(self, base) -> None:  # base: xdub.generation.ModelGenerator
        self.base, self.crop_size = base, base.crop_size
        self.temporal_factor, self.motion_frames = base.temporal_factor, base.motion_frames
        self.ref_frames, self.steps = base.ref_frames, 0

    def configured(self, sampling) -> CopyGenerator:
        return self

    def prepare_audio(self, audio):
        return self.base.prepare_audio(audio)

    def audio_windows(self, prepared, first_frame: int, num_frames: int, fps: float):
        return self.base.audio_windows(prepared, first_frame, num_frames, fps)

    def generate(self, chunk, rng) -> np.ndarray:
        return chunk.crops.copy()


def dub(video: str, audio: str, out: str, threads: int, generator: str) -> dict:
    """Dub file to file in this process, as `xdub dub` does; its peak RSS and frame count."""
    import torch

    from xdub.api import DubbingPipeline

    torch.set_num_threads(threads)
    pipe = DubbingPipeline.from_pretrained(device="cpu")
    if generator == "copy":
        pipe.pipeline.generator = CopyGenerator(pipe.pipeline.generator)
    stages = StageMemory()
    result = pipe(video, audio, output=out, steps=1, progress=stages)
    end = round(peak_rss_mib("VmRSS"))
    return {"frames": result.summary.output_frames, "peak_rss_mib": peak_rss_mib(),
            "stages": stages.stages, "end_mib": end}


def measure(seconds: list[float], threads: int, generator: str) -> list[dict]:
    """Render every clip, then dub each in its own process."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for s in seconds:
            video, audio = render(folder, s)
            cmd = [sys.executable, __file__, "--dub", str(video), str(audio),
                   str(folder / f"out_{s:g}.mp4"), "--threads", str(threads),
                   "--generator", generator]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            rows.append({"seconds": s, **json.loads(out.strip().splitlines()[-1])})
            stages = ", ".join(f"{st['stage']} {st['start_mib']}-{st['max_mib']}"
                               for st in rows[-1]["stages"])
            print(f"{s:6g} s ({rows[-1]['frames']} frames): "
                  f"peak RSS {rows[-1]['peak_rss_mib']:.0f} MiB; RSS per stage (start-max): "
                  f"{stages}; end {rows[-1]['end_mib']}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[8.0, 48.0])
    parser.add_argument("--generator", choices=("model", "copy"), default="model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dub", nargs=3, help=argparse.SUPPRESS)  # internal: one child run
    args = parser.parse_args()
    if args.dub:
        row = dub(*args.dub, threads=args.threads, generator=args.generator)
        print(json.dumps(row))
        return
    rows = measure(sorted(args.seconds), args.threads, args.generator)
    short, long = rows[0], rows[-1]
    if len(rows) < 2:  # one clip: its peak only
        return
    growth = (long["peak_rss_mib"] - short["peak_rss_mib"]) / (long["seconds"] - short["seconds"])
    ratio = long["peak_rss_mib"] / short["peak_rss_mib"]
    print(f"generator {args.generator}: longest / shortest {ratio:.3f} (target <= 1.10); "
          f"growth {60 * growth:.1f} MiB per minute")


if __name__ == "__main__":
    main()
