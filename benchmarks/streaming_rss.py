"""Peak resident memory of `xdub dub` on a short and a long video: streaming means the long
one needs (almost) no more memory than the short one.

Each clip is rendered to files first; each dub then runs file to file in a fresh process that
reports its own peak RSS, so rendering never counts. The peak is VmHWM (/proc/self/status),
not `getrusage`'s ru_maxrss: Linux carries ru_maxrss across fork + exec, so a child started
by a parent that had just rendered 48 s of frames reported the parent's ~1.5 GiB as its own
(the "growth" measured before this fix, 606 -> 1566 MiB, was that). Tiny scale, CPU, 1 sampling step (memory
does not depend on the step count).

    python benchmarks/streaming_rss.py [--short 8] [--long 48] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def render(folder: Path, seconds: float) -> tuple[Path, Path]:
    """Video (speech A) and a second speech track of `seconds`, 320x240 at 25 fps."""
    from xdub.config.synth import SynthConfig
    from xdub.media import write_video, write_wav
    from xdub.synth.clip import render_pair

    a, b = render_pair(0, SynthConfig(size=(320, 240), fps=25.0, duration=seconds))
    video = write_video(folder / f"clip_{seconds:g}.mp4", a.frames, 25.0, audio=a.audio)
    return video, write_wav(folder / f"speech_{seconds:g}.wav", b.audio)


def peak_rss_mib() -> float:
    """This process's peak resident memory since its exec (VmHWM), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def dub(video: str, audio: str, out: str, threads: int) -> dict:
    """Dub file to file in this process; its peak RSS and frame count."""
    import torch

    from xdub.config.infer import InferConfig, SamplingConfig
    from xdub.media import read_audio
    from xdub.pipeline import FileSink, FileSource, load_pipeline

    torch.set_num_threads(threads)
    pipe = load_pipeline(device="cpu")
    result = pipe(FileSource(Path(video)), read_audio(Path(audio), sample_rate=48_000),
                  InferConfig(sampling=SamplingConfig(steps=1)),
                  output=FileSink(Path(out), inputs=[Path(video), Path(audio)]))
    return {"frames": result.summary.output_frames, "peak_rss_mib": peak_rss_mib()}


def measure(seconds: list[float], threads: int) -> list[dict]:
    """Render every clip, then dub each in its own process."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for s in seconds:
            video, audio = render(folder, s)
            cmd = [sys.executable, __file__, "--dub", str(video), str(audio),
                   str(folder / f"out_{s:g}.mp4"), "--threads", str(threads)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            rows.append({"seconds": s, **json.loads(out.strip().splitlines()[-1])})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=float, default=8.0)
    parser.add_argument("--long", type=float, default=48.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dub", nargs=3, help=argparse.SUPPRESS)  # internal: one child run
    args = parser.parse_args()
    if args.dub:
        print(json.dumps(dub(*args.dub, threads=args.threads)))
        return
    short, long = measure([args.short, args.long], args.threads)
    growth = (long["peak_rss_mib"] - short["peak_rss_mib"]) / (long["seconds"] - short["seconds"])
    for row in (short, long):
        print(f"{row['seconds']:6g} s ({row['frames']} frames): "
              f"peak RSS {row['peak_rss_mib']:.0f} MiB")
    ratio = long["peak_rss_mib"] / short["peak_rss_mib"]
    print(f"long / short: {ratio:.3f} (target <= 1.10); growth {60 * growth:.1f} MiB per minute")


if __name__ == "__main__":
    main()
