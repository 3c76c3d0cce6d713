"""Mouth strips where an occluder covers the mouth (issue #12, occluders).

The benchmark's strips pick frames with a VISIBLE mouth, so they never show what a dub does to
a hand or an object in front of it. This renders the benchmark's occlusion pairs, dubs each
with every checkpoint, and tiles input | checkpoints | answer around the mouth at the 4 frames
where the occluder hides most of the mouth zone (engine truth).

  python scripts/occluder_strip.py --out docs/images/default_occluders.png \
      --editor default=src/xdub/assets/default --editor old=/path/to/old[,strength=1,steps=8]
Not importable (scripts/ is outside the package).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from xdub.bench.figures import mouth_strip
from xdub.bench.manifest import build_manifest
from xdub.bench.regions import mouth_boxes
from xdub.bench.runner import render_bench_pair
from xdub.config import replace
from xdub.config.bench import BENCH_PRESETS
from xdub.config.infer import InferConfig, SamplingConfig
from xdub.media.image import write_png
from xdub.pipeline import load_pipeline
from xdub.types import Video


def grown(boxes: np.ndarray, factor: float, side: int) -> np.ndarray:
    """Mouth boxes `[T, 4]` grown about their centres (the occluder reaches past the lips)."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    w, h = (boxes[:, 2] - boxes[:, 0]) * factor, (boxes[:, 3] - boxes[:, 1]) * factor
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1).clip(0, side - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--editor", action="append", required=True,
                        help="NAME=DIR[,strength=D][,steps=N] (repeat)")
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--seed-start", type=int, default=1_000_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = replace(BENCH_PRESETS["default"], scenarios=("occlusion",), clips=args.clips,
                  duration=3.0, duration_overrides={}, methods=("copy_input",), checkpoints=(),
                  seed_start=args.seed_start)
    manifest = build_manifest(cfg)
    editors = []
    for spec in args.editor:
        name, _, rest = spec.partition("=")
        folder, *options = rest.split(",")
        given = dict(option.split("=", 1) for option in options)
        sampling = SamplingConfig(steps=int(given["steps"]) if "steps" in given else None,
                                  denoise_strength=float(given["strength"])
                                  if "strength" in given else None)
        editors.append((name, load_pipeline(checkpoint=folder), sampling))
    rows = []
    for entry in manifest.entries:
        pair = render_bench_pair(entry, manifest)
        zone, occluder = pair.source.truth.mouth_mask, pair.source.truth.occluder_mask
        cover = (zone & occluder).sum((1, 2)) / np.maximum(zone.sum((1, 2)), 1)
        picks = [int(i) for i in np.argsort(-cover, kind="stable")[:4]]
        print(f"seed {entry.seed}: occluder covers {', '.join(f'{cover[i]:.0%}' for i in picks)}"
              " of the mouth zone")
        video = Video(pair.source.frames, pair.source.fps, pair.answer.audio)
        columns = [("input", pair.source.frames)]
        for name, pipe, sampling in editors:
            result = pipe(video, pair.answer.audio,
                          InferConfig(sampling=sampling, no_face="passthrough"))
            columns.append((name, np.asarray(result.video.frames)))
        columns.append(("answer", pair.answer.frames))
        boxes = grown(mouth_boxes(zone).astype(float), 1.8, pair.source.frames.shape[1])
        rows.append(mouth_strip(columns, picks, boxes))
    width = max(row.shape[1] for row in rows)
    write_png(args.out, np.concatenate([np.pad(row, ((0, 8), (0, width - row.shape[1]), (0, 0)),
                                               constant_values=255) for row in rows]))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
