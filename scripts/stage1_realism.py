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
The judge, its mouth box and its training are `xdub.train.realism`'s, the same that
`PairGenConfig.realism` filters pairs with; here it is trained afresh on the store as it is (a
filtered store is judged on the pairs it accepts).

  python scripts/stage1_realism.py /work/runs/pairs_boot --out /work/runs/realism_boot.json
Not importable (scripts/ is outside the package).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from xdub.config.train import RealismFilterConfig
from xdub.data.pairs import PairStore
from xdub.train.realism import LEARNED, accuracy, judged_rows, mouth_boxes, train_judge


def sharpness(boxes: np.ndarray) -> float:
    """Mean variance of the Laplacian of the grey box (blur lowers it)."""
    grey = boxes.mean(axis=1)
    return float(np.mean([cv2.Laplacian(g, cv2.CV_32F).var() for g in grey]))


def main() -> None:
    defaults = RealismFilterConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--box", default=",".join(str(v) for v in defaults.box),
                        help="centre x, centre y, width as fractions of the crop "
                        "(stage2_tiny_mouth.yaml's sync_box)")
    parser.add_argument("--side", type=int, default=defaults.side)
    parser.add_argument("--steps", type=int, default=defaults.steps, help="classifier steps "
                        "(600: the figures up to session 18; 1,500 tells stage-1 pairs apart "
                        "far better)")
    parser.add_argument("--all", action="store_true", help="also the pairs the filters rejected")
    parser.add_argument("--limit", type=int, default=0, help="only the store's first N pairs (0 = "
                        "all): compare two stores on the same source clips")
    parser.add_argument("--seed", type=int, default=0, help="the held-out clips and the "
                        "classifier's initialisation (rerun with others to see the spread)")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    box = tuple(float(v) for v in args.box.split(","))
    store = PairStore(args.pairs, accepted_only=not args.all)
    rows = judged_rows(store)  # self-made (prior-only) pairs hold no stage-1 mouth
    count = min(len(rows), args.limit) if args.limit else len(rows)
    real, fake = [], []
    for i in rows[:count]:
        arrays = store.load(i)
        real.append(mouth_boxes(arrays["target_crops"], box, args.side))
        fake.append(mouth_boxes(arrays["input_crops"], box, args.side))
    test = set(rng.permutation(count)[: max(1, count // 3)].tolist())
    train_ids = [j for j in range(count) if j not in test]

    def stack(boxes: list[np.ndarray], ids) -> np.ndarray:
        return np.concatenate([boxes[j] for j in ids])

    model, train_acc = train_judge(stack(real, train_ids), stack(fake, train_ids), args.steps,
                                   args.seed, log_every=100)
    test_acc = accuracy(model, stack(real, sorted(test)), stack(fake, sorted(test)))
    real_x, fake_x = np.concatenate(real), np.concatenate(fake)
    report = {
        "pairs": str(args.pairs), "num_pairs": count, "seed": args.seed,
        "held_out_pairs": len(test), "frames_train": 2 * sum(len(real[j]) for j in train_ids),
        "frames_test": 2 * sum(len(real[j]) for j in test), "train_accuracy": round(train_acc, 4),
        "learned": train_acc >= LEARNED,
        "held_out_accuracy": round(test_acc, 4),
        "sharpness_real": round(sharpness(real_x), 5), "sharpness_input": round(sharpness(fake_x), 5),
        "mean_rgb_real": [round(float(v), 4) for v in real_x.mean(axis=(0, 2, 3))],
        "mean_rgb_input": [round(float(v), 4) for v in fake_x.mean(axis=(0, 2, 3))],
    }
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
