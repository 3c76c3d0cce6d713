"""Scene-cut detectors on synthetic long videos with known hard cuts: ours vs PySceneDetect.

Each video joins 8 shots (30-90 frames) of random scenarios, including `lighting` (light drift
and switches) and `fast_motion` (sudden head turns), the usual false-cut causes. A cut counts as
found when a detection lies within one frame of it; any other detection is a false cut.
PySceneDetect is measured only where it is importable (it needs `opencv-python`, which
conflicts with our `opencv-python-headless` pin; install it in a separate environment with
`pip install --no-deps scenedetect platformdirs` on top of ours to run it).
Usage: python benchmarks/prepare_scene_cuts.py [--videos 6]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from xdub.config.synth import SCENARIOS
from xdub.face.scenecut import SceneCutDetector
from xdub.synth.clip import render_clip

FPS = 25.0
NAMES = ("standard", "lighting", "fast_motion", "occlusion", "stylized")


def long_video(seed: int) -> tuple[np.ndarray, list[int]]:
    """Frames `[T, 160, 192, 3]` of 8 joined shots and the true cut frames."""
    rng = np.random.default_rng(seed)
    frames, cuts, start = [], [], 0
    for k in range(8):
        n = int(rng.integers(30, 90))
        cfg = replace(SCENARIOS[str(rng.choice(NAMES))], size=(192, 160), duration=n / FPS)
        if start:
            cuts.append(start)
        frames.append(render_clip(seed * 100 + k, cfg).frames[:n])
        start += n
    return np.concatenate(frames), cuts


def ours(frames: np.ndarray) -> list[int]:
    detector = SceneCutDetector(0.5)  # TrackConfig.scene_cut_threshold default
    return [i for i, frame in enumerate(frames) if detector.is_cut(frame)]


def scenedetect_methods() -> dict:
    try:
        from scenedetect import AdaptiveDetector, ContentDetector, FrameTimecode, HistogramDetector
    except ImportError:
        return {}

    def run(factory):
        def detect(frames: np.ndarray) -> list[int]:
            detector, cuts = factory(), []
            for i, frame in enumerate(frames):
                found = detector.process_frame(FrameTimecode(i, fps=FPS), frame[..., ::-1].copy())
                cuts += [c.frame_num for c in found]
            return [c for c in cuts if c > 0]
        return detect

    return {"scenedetect ContentDetector": run(lambda: ContentDetector(min_scene_len=5)),
            "scenedetect AdaptiveDetector": run(lambda: AdaptiveDetector(min_scene_len=5)),
            "scenedetect HistogramDetector": run(lambda: HistogramDetector(min_scene_len=5))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=6)
    args = parser.parse_args()
    methods = {"ours (HSV histogram, 0.5)": ours, **scenedetect_methods()}
    totals = {name: [0, 0, 0, 0.0] for name in methods}  # found, cuts, false, seconds
    for seed in range(args.videos):
        frames, truth = long_video(seed)
        for name, detect in methods.items():
            begin = time.perf_counter()
            found = detect(frames)
            totals[name][3] += time.perf_counter() - begin
            totals[name][0] += sum(any(abs(f - c) <= 1 for f in found) for c in truth)
            totals[name][1] += len(truth)
            totals[name][2] += sum(not any(abs(f - c) <= 1 for c in truth) for f in found)
    for name, (hit, cuts, false, seconds) in totals.items():
        print(f"{name:32s} found {hit}/{cuts} within 1 frame, false cuts {false}, {seconds:.2f} s")


if __name__ == "__main__":
    main()
