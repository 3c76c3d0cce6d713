"""Issue #12 diagnostic: how well do the tiny audio features predict the true lip opening?

Ridge regression from the per-frame mel windows (exactly what the tiny DiT receives: 20 x 80
log-mel values around each frame) to the engine's lip opening, fitted on `--train` synthetic
clips and scored (Pearson r) on `--test` held-out clips. A high r says the features carry the
lips, so a DiT that does not follow the audio fails to learn or to draw them. Not importable.

    python scripts/audio_lip_probe.py [--train 300] [--test 60]   # session 5: r = 0.89
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from xdub.audio import build_featurizer
from xdub.config.audio import AudioConfig
from xdub.synth.clip import plan_clips
from xdub.synth.scenarios import get_scenario

HELD_OUT_SEED = 900_000  # above the training seeds used here, below the bench range


def features_and_opening(seeds: range, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Flattened mel windows `[frames, 20 * 80]` and true openings `[frames]` of the clips."""
    featurizer = build_featurizer(AudioConfig())
    scenario = replace(get_scenario("mixed"), duration=seconds)
    rows, openings = [], []
    for seed in seeds:
        plan = plan_clips(seed, scenario)[0]  # speech and mouth track only: no rendering
        frames = plan.mouth.params.shape[0]
        windows = featurizer.features(plan.audio.samples, scenario.fps, frames)
        rows.append(windows.reshape(frames, -1).numpy())
        openings.append(plan.mouth.column("opening"))
    return np.concatenate(rows), np.concatenate(openings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=300)
    parser.add_argument("--test", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--ridge", type=float, default=1000.0)
    args = parser.parse_args()
    x_train, y_train = features_and_opening(range(args.train), args.seconds)
    x_test, y_test = features_and_opening(range(HELD_OUT_SEED, HELD_OUT_SEED + args.test),
                                          args.seconds)
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    a, b = (x_train - mean) / std, (x_test - mean) / std
    weights = np.linalg.solve(a.T @ a + args.ridge * np.eye(a.shape[1]),
                              a.T @ (y_train - y_train.mean()))
    r = np.corrcoef(b @ weights + y_train.mean(), y_test)[0, 1]
    print(f"ridge({args.ridge:g}) mel window -> lip opening: r = {r:.3f} on {len(y_test)} "
          f"held-out frames ({args.test} clips; trained on {len(y_train)} frames)")


if __name__ == "__main__":
    main()
