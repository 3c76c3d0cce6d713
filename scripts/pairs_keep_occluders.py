"""Rewrite a synthetic pair store so that V' keeps V's occluders (issue #12, occluders).

The stage-1 inpainter regenerates the whole lower face, so a hand over the mouth becomes skin
and lips in V' while V (the target) still shows the hand: an editor trained on such pairs
learns to REDRAW occluders. Pair generation now keeps them (`pairs.keep_occluders`, from the
engine's truth); this script applies the same rule to a store made before that, re-rendering
each source clip by its seed for the occluder masks (no model runs):

  python scripts/pairs_keep_occluders.py --pairs runs/pairs --out runs/pairs_occ \
      [--scenario mixed --size 256 256 --clip-seconds 2.0]   (the chain's pair_source)
Not importable (scripts/ is outside the package).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from xdub.config.train import SynthSourceConfig
from xdub.data.manifest import MANIFEST_NAME, read_rows, write_rows
from xdub.data.pairs import PairStore, checksum, write_shard
from xdub.data.sources import synth_config
from xdub.generation import composite
from xdub.synth.clip import render_clip
from xdub.train.pairgen import occluder_cover, occluders_in_crops


def keep_occluders(arrays: dict[str, np.ndarray], occluders: np.ndarray) -> tuple[dict, float]:
    """The pair with V's pixels over V' wherever the occluders are; and the share of the
    composite region (the stored `mask`) they covered."""
    size = arrays["input_crops"].shape[1]
    occ = occluders_in_crops(occluders[: len(arrays["affines"])], arrays["affines"], size)
    mask = arrays["mask"].astype(np.float32) / 255.0
    covered = occluder_cover(occ, mask)
    kept = dict(arrays)
    kept["input_crops"] = composite(arrays["target_crops"], arrays["input_crops"], occ)
    kept["mask"] = np.rint(mask * (1.0 - occ) * 255).astype(np.uint8)
    kept["occluders"] = np.rint(occ * 255).astype(np.uint8)
    return kept, covered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--scenario", default="mixed")
    parser.add_argument("--size", type=int, nargs=2, default=(256, 256))
    parser.add_argument("--clip-seconds", type=float, default=2.0)
    args = parser.parse_args()
    if args.out.exists():
        sys.exit(f"error: {args.out} exists; choose a new folder")
    engine = synth_config(SynthSourceConfig(scenario=args.scenario, size=tuple(args.size),
                                            clip_seconds=args.clip_seconds))
    store = PairStore(args.pairs, accepted_only=False)
    args.out.mkdir(parents=True)
    # Shard by shard as stored: a store assembled from several runs numbers its shards (and
    # pair ids) per run, so rows are grouped by their own shard file, never by row.shard.
    shard_files = sorted(args.pairs.glob("shard_*.jsonl"))
    touched = total = 0
    all_rows = []
    for index, path in enumerate(shard_files):
        rows, arrays = [], {}
        for row in read_rows(path):
            if row.file is not None:
                clip = render_clip(int(row.seeds["source_seed"]), engine)
                kept, covered = keep_occluders(store.load_row(row), clip.truth.occluder_mask)
                touched += covered > 0.001
                total += 1
                arrays[row.pair_id] = kept
                row = dataclasses.replace(row, checksum=checksum(kept),
                                          scores={**row.scores, "occluder_cover": covered})
            rows.append(row)
        write_shard(args.out, int(path.stem.split("_")[1]), rows, arrays)
        all_rows += rows
        print(f"shard file {index + 1}/{len(shard_files)}: {touched} of {total} stored pairs "
              "had occluders over the mask so far", flush=True)
    write_rows(args.out / MANIFEST_NAME, all_rows)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
