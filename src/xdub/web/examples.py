"""Example inputs for the page, rendered by the synthetic engine at start-up (no downloads).

Each example is one pair of `xdub.synth.render_pair`: video A (with its own speech) and the
speech of clip B, so dubbing A with it has an exact answer. Imports: xdub.{synth, media, config}.
"""

from __future__ import annotations

from pathlib import Path

from xdub.config.synth import SynthConfig
from xdub.media import write_video, write_wav
from xdub.synth.clip import render_pair

EXAMPLE_SIZE = (256, 256)  # px: big enough for the face detector, quick to dub on a CPU
EXAMPLE_FPS = 25.0
FIRST_SEED = 1_500  # fixed seeds: the same examples on every start


def render_examples(folder: Path, count: int, seconds: float) -> list[tuple[Path, Path]]:
    """`count` (video, audio) example pairs written to `folder` (kept if already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    pairs = []
    for k in range(count):
        video, audio = folder / f"example_{k}_video.mp4", folder / f"example_{k}_new_voice.wav"
        if not (video.is_file() and audio.is_file()):
            cfg = SynthConfig(size=EXAMPLE_SIZE, fps=EXAMPLE_FPS, duration=seconds)
            clip_a, clip_b = render_pair(FIRST_SEED + k, cfg)
            write_video(video, clip_a.frames, EXAMPLE_FPS, audio=clip_a.audio)
            write_wav(audio, clip_b.audio)
        pairs.append((video, audio))
    return pairs
