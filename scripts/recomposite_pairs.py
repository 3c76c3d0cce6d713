"""Rewrite a finished synthetic pair store with another composite region, without re-inpainting.

A stored input V' is V outside the lower-face mask and V'_raw inside it. With
`--composite mouth`, every pair is re-composited so V' takes V'_raw only inside the clip's grown
mouth region (`xdub.train.pairgen.composite_region`, the same rule `xdub make-pairs` applies
with `composite: mouth`): V'_raw there is the stored V' (the mouth region lies inside the
lower-face mask). The source clip is re-rendered from the seed in its record to rebuild its
landmarks; its target crops must match the stored ones exactly (checked).
Filter scores and acceptance are kept (they were judged on V'_raw, which does not change).

Usage: python scripts/recomposite_pairs.py STORE OUT --inpainter DIR [--config PAIRS.yaml]
       [--scenario mixed --clip-seconds 2 --size 256]
Not importable (scripts/ is outside the package).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from xdub.config import load
from xdub.config.train import PairGenConfig, SynthSourceConfig
from xdub.data.crops import prepare_clip
from xdub.data.manifest import read_rows
from xdub.data.pairs import PairStore, checksum, merge_manifests, shard_stem, write_shard
from xdub.data.sources import SynthClipSource
from xdub.generation import composite
from xdub.train.inpaint import load_inpainter
from xdub.train.pairgen import composite_region


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--inpainter", type=Path, required=True, help="for its face/audio spec")
    parser.add_argument("--config", type=Path, default=None, help="PairGenConfig YAML")
    parser.add_argument("--scenario", default="mixed")
    parser.add_argument("--clip-seconds", type=float, default=2.0)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()

    cfg = load(PairGenConfig, args.config) if args.config else PairGenConfig(composite="mouth")
    inpainter = load_inpainter(args.inpainter)
    spec = inpainter.spec
    store = PairStore(args.store, accepted_only=False)
    shards = sorted({row.shard for row in store.all_rows})
    index = {row.pair_id: k for k, row in enumerate(store.rows)}
    synth = SynthSourceConfig(scenario=args.scenario, size=(args.size, args.size),
                              clip_seconds=args.clip_seconds)
    args.out.mkdir(parents=True, exist_ok=True)
    for shard in tqdm(shards, desc="shards"):
        rows = read_rows(args.store / f"{shard_stem(shard)}.jsonl")
        arrays = {}
        for row in rows:
            if row.file is None:
                continue
            stored = store.load(index[row.pair_id])
            source = SynthClipSource(synth, [row.seeds["source_seed"]])
            clip = prepare_clip(source.load(0), spec.face, inpainter.featurizer, spec.mask_hold_s)
            if not np.array_equal(clip.crops.crops, stored["target_crops"]):
                raise SystemExit(f"{row.pair_id}: re-rendered crops differ from the store")
            region = composite_region(clip, cfg)
            stored["input_crops"] = composite(stored["input_crops"], stored["target_crops"], region)
            stored["mask"] = np.rint(region * 255).astype(np.uint8)
            arrays[row.pair_id] = stored
        rows = [replace(r, checksum=checksum(arrays[r.pair_id])) if r.file else r for r in rows]
        write_shard(args.out, shard, rows, arrays)
    print(merge_manifests(args.out, len(shards)))


if __name__ == "__main__":
    main()
