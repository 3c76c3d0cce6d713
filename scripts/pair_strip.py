"""Look at pair stores: V | V' crops of some pairs at evenly spaced times.

Each pair gives a column of the real crops (V, the target) and one column of the input (V') per
store, one tile per time (crops enlarged `--scale` times, nearest neighbour, so speckle shows).
Several stores made from the same clips with the same donors (e.g. two stage-1 settings) put
their V' side by side; the pairs are the first stored items accepted in the first store, or
`--items`.
  python scripts/pair_strip.py PAIRS [PAIRS ...] --out strip.png [--pairs 4] [--times 6]
      [--first 0] [--items 3 7 9] [--labels plain retrieval]
Not importable (scripts/ is outside the package).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from xdub.bench.figures import frame_strip, sample_frames
from xdub.data.pairs import PairStore
from xdub.media.image import write_image


def enlarged(crops: np.ndarray, scale: int) -> np.ndarray:
    return np.stack([cv2.resize(c, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
                     for c in crops])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pairs-shown", "--pairs", dest="shown", type=int, default=4)
    parser.add_argument("--times", type=int, default=6)
    parser.add_argument("--first", type=int, default=0, help="skip this many accepted pairs")
    parser.add_argument("--items", type=int, nargs="*", default=None, help="source items shown")
    parser.add_argument("--labels", nargs="*", default=None, help="one per store")
    parser.add_argument("--scale", type=int, default=3)
    args = parser.parse_args()
    stores = [PairStore(folder) for folder in args.pairs]
    labels = args.labels or [folder.name for folder in args.pairs]
    by_item = [{row.item: k for k, row in enumerate(s.rows) if row.file is not None}
               for s in stores]
    items = args.items
    if items is None:
        items = [row.item for row in stores[0].rows if row.accepted][args.first:][:args.shown]
    columns = []
    for item in items:
        if any(item not in index for index in by_item):
            raise SystemExit(f"item {item} is not stored in every store")
        real = stores[0].load(by_item[0][item])["target_crops"]
        columns.append((f"V {item}", enlarged(real, args.scale)))
        for store, index, label in zip(stores, by_item, labels):
            made = store.load(index[item])["input_crops"]
            columns.append((f"{label} {item}", enlarged(made, args.scale)))
    if not columns:
        raise SystemExit("no accepted pairs in the store")
    picks = sample_frames(len(columns[0][1]), args.times)
    strip = frame_strip(columns, picks, max_side=10_000)
    print(write_image(args.out, strip))


if __name__ == "__main__":
    main()
