"""Can a small classifier tell stage-1 mouths from real ones? (issue #12, stage-1 realism)

Reads a pair store (`xdub make-pairs` layout): each pair holds V' (`input_crops`, the mouth
re-rendered by stage 1 and composited) and V (`target_crops`, the real crops) of the same
frames. A mouth box is cut from both; a 3-layer CNN learns real vs stage-1 on the pairs of
some source clips and is scored on the pairs of the others (held out by clip, never by frame,
so it cannot memorise a face). 50% = indistinguishable; the issue's goal is <= 65%.
Also reported: sharpness (variance of the Laplacian) and mean colour of the box, real vs
stage-1. Run it on a store of exact engine pairs (`scripts/make_reference_pairs.py --kind
oracle`) for the control: both sides real, so accuracy must come out near 50%.
The judge's budget matters (design 3.1 session 19): at the 600 steps of every figure up to
session 18 some seeds never leave 50% and the rest stop at 55-65%; at 1,500 steps the same
stage-1 pairs are told apart at 72-82% while the oracle control stays at 50-51%. `learned`
in the report is false when the classifier did not even fit its training crops (train
accuracy < 55%): leave those seeds out of a mean, they say nothing about the pairs.

  python scripts/stage1_realism.py /work/runs/pairs_boot --out /work/runs/realism_boot.json
Not importable (scripts/ is outside the package).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from xdub.data.pairs import PairStore


LEARNED = 0.55  # train accuracy below this: the classifier never fit (a dead start), not a verdict


def mouth_boxes(crops: np.ndarray, box: tuple[float, float, float], side: int) -> np.ndarray:
    """[T, S, S, 3] uint8 crops -> [T, side, side, 3] float32 in [0, 1] around the mouth box."""
    size = crops.shape[1]
    cx, cy, width = box[0] * size, box[1] * size, box[2] * size
    x0, y0 = int(round(cx - width / 2)), int(round(cy - width / 2))
    x1, y1 = x0 + int(round(width)), y0 + int(round(width))
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size), min(y1, size)
    out = [cv2.resize(frame[y0:y1, x0:x1], (side, side), interpolation=cv2.INTER_AREA)
           for frame in crops]
    return np.stack(out).astype(np.float32) / 255.0


def classifier() -> nn.Module:
    """Three strided convolutions and a linear read-out: a deliberately small judge."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(64, 1))


def sharpness(boxes: np.ndarray) -> float:
    """Mean variance of the Laplacian of the grey box (blur lowers it)."""
    grey = boxes.mean(axis=-1)
    return float(np.mean([cv2.Laplacian(g, cv2.CV_32F).var() for g in grey]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--box", default="0.5,0.560,0.616", help="centre x, centre y, width "
                        "as fractions of the crop (stage2_tiny_mouth.yaml's sync_box)")
    parser.add_argument("--side", type=int, default=32)
    parser.add_argument("--steps", type=int, default=1500, help="classifier steps (600: the "
                        "figures up to session 18; 1,500 tells stage-1 pairs apart far better)")
    parser.add_argument("--all", action="store_true", help="also the pairs the filters rejected")
    parser.add_argument("--limit", type=int, default=0, help="only the store's first N pairs (0 = "
                        "all): compare two stores on the same source clips")
    parser.add_argument("--seed", type=int, default=0, help="the held-out clips and the "
                        "classifier's initialisation (rerun with others to see the spread)")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    box = tuple(float(v) for v in args.box.split(","))
    store = PairStore(args.pairs, accepted_only=not args.all)
    real, fake, clip = [], [], []
    count = min(len(store), args.limit) if args.limit else len(store)
    for i in range(count):
        arrays = store.load(i)
        real.append(mouth_boxes(arrays["target_crops"], box, args.side))
        fake.append(mouth_boxes(arrays["input_crops"], box, args.side))
        clip.append(np.full(len(real[-1]), i))
    real_x, fake_x, clip_id = np.concatenate(real), np.concatenate(fake), np.concatenate(clip)
    test_clip = np.isin(clip_id, rng.permutation(count)[: max(1, count // 3)])
    x = np.concatenate([real_x, fake_x]).transpose(0, 3, 1, 2)
    y = np.concatenate([np.ones(len(real_x)), np.zeros(len(fake_x))]).astype(np.float32)
    held = np.concatenate([test_clip, test_clip])
    x_train, y_train = torch.from_numpy(x[~held]), torch.from_numpy(y[~held])
    x_test, y_test = torch.from_numpy(x[held]), torch.from_numpy(y[held])
    model = classifier()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for step in range(args.steps):
        pick = torch.from_numpy(rng.integers(0, len(x_train), 128))
        loss = nn.functional.binary_cross_entropy_with_logits(model(x_train[pick]).squeeze(1),
                                                              y_train[pick])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            print(f"step {step}: loss {loss.item():.3f}", flush=True)
    with torch.no_grad():
        train_acc = ((model(x_train).squeeze(1) > 0).float() == y_train).float().mean().item()
        test_acc = ((model(x_test).squeeze(1) > 0).float() == y_test).float().mean().item()
    report = {
        "pairs": str(args.pairs), "num_pairs": count, "seed": args.seed, "held_out_pairs": int(
            len(set(clip_id[test_clip]))), "frames_train": int((~held).sum()),
        "frames_test": int(held.sum()), "train_accuracy": round(train_acc, 4),
        "learned": train_acc >= LEARNED,
        "held_out_accuracy": round(test_acc, 4),
        "sharpness_real": round(sharpness(real_x), 5), "sharpness_input": round(sharpness(fake_x), 5),
        "mean_rgb_real": [round(float(v), 4) for v in real_x.mean(axis=(0, 1, 2))],
        "mean_rgb_input": [round(float(v), 4) for v in fake_x.mean(axis=(0, 1, 2))],
    }
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
