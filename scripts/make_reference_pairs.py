"""Stage-2 pair stores that need no stage-1 model: ablation references for issue #12.

Two kinds, written in the `xdub make-pairs` store layout so `xdub train stage2` reads them:

  oracle    the engine's exact pairs: input = video A (the same scene rendered with speech A),
            target = video B, audio B; both cropped with A's alignments, as at dubbing time.
            What a bootstrapped editor could learn at best from perfect pairs.
  shuffle   self-made from single clips: target = V, audio = V's own; input = V with the clip's
            grown mouth region taken from V itself `shift` frames away (circularly). The input
            lips are REAL and sharp but belong to other speech, so copying them never pays --
            the "no reward for copying" lever, usable on real footage (no engine, no stage 1).

Usage: python scripts/make_reference_pairs.py --kind oracle --out DIR [--num 128]
Not importable (scripts/ is outside the package).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from xdub.config import load
from xdub.config.train import Stage1Config, SynthSourceConfig
from xdub.conditioning import crop_frames, prepare_face_crops
from xdub.data.manifest import PairRecord, pair_id
from xdub.data.pairs import checksum, merge_manifests, shard_stem, write_shard
from xdub.data.sources import synth_config
from xdub.synth.clip import render_pair
from xdub.face.landmarks import transform_points
from xdub.face.mask import clip_mouth_region, mouth_mask
from xdub.generation import composite
from xdub.train.pairgen import shuffled_source
from xdub.types import AUDIO_SAMPLE_RATE

SHARD = 16


def make_arrays(kind: str, seed: int, cfg: Stage1Config, synth, mouth_grow: float,
                ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The PAIR_ARRAYS of one pair (+ its scores)."""
    a, b = render_pair(seed, synth)
    face = cfg.face
    crops_a = prepare_face_crops(a.frames, a.truth.landmarks, a.fps, face.align, face.mask)
    size = crops_a.crops.shape[1]
    region = clip_mouth_region(crops_a.mouth_masks, mouth_grow * size)
    if kind == "oracle":
        target = crop_frames(b.frames, crops_a.affines, size, face.align.interpolation)
        lm_b = np.stack([transform_points(lm, af) for lm, af in zip(b.truth.landmarks,
                                                                      crops_a.affines)])
        region_b = clip_mouth_region(np.stack([mouth_mask(lm, (size, size), face.mask)
                                               for lm in lm_b]), mouth_grow * size)
        region = np.maximum(region, region_b)
        arrays = {"input_crops": crops_a.crops, "target_crops": target,
                  "audio": b.audio.samples.astype(np.float32),
                  "donor_audio": a.audio.samples.astype(np.float32)}
        scores = {"shift": 0.0}
    else:
        shuffled, donor_audio, shift = shuffled_source(crops_a.crops, a.audio.samples, seed)
        arrays = {"input_crops": composite(shuffled, crops_a.crops, region),
                  "target_crops": crops_a.crops,
                  "audio": a.audio.samples.astype(np.float32), "donor_audio": donor_audio}
        scores = {"shift": float(shift)}
    arrays["mask"] = np.rint(region * 255).astype(np.uint8)
    arrays["affines"] = crops_a.affines.astype(np.float32)
    return arrays, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("oracle", "shuffle"), required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--stage1-config", default="configs/train/stage1_tiny_mouth.yaml",
                        help="crop geometry (face) of the editor to train")
    parser.add_argument("--num", type=int, default=128)
    parser.add_argument("--first-seed", type=int, default=200000)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--mouth-grow", type=float, default=0.06)
    args = parser.parse_args()
    cfg = load(Stage1Config, args.stage1_config)
    synth = synth_config(SynthSourceConfig(scenario="mixed", size=(256, 256),
                                           clip_seconds=args.seconds))
    args.out.mkdir(parents=True, exist_ok=True)
    for shard in range(-(-args.num // SHARD)):
        rows, arrays = [], {}
        for item in range(shard * SHARD, min(args.num, (shard + 1) * SHARD)):
            seed = args.first_seed + item
            named, scores = make_arrays(args.kind, seed, cfg, synth, args.mouth_grow)
            pid = pair_id(item)
            arrays[pid] = named
            rows.append(PairRecord(
                pair_id=pid, item=item, shard=shard, source_clip=f"synth:mixed:{seed}",
                donor_clip=f"{args.kind}:{seed}", donor_rule=args.kind, seeds={"source_seed": seed},
                model_version=args.kind, num_frames=len(named["input_crops"]), fps=25.0,
                crop_size=int(named["input_crops"].shape[1]), sample_rate=AUDIO_SAMPLE_RATE,
                scores=scores, accepted=True, file=f"{shard_stem(shard)}.safetensors",
                checksum=checksum(named)))
        write_shard(args.out, shard, rows, arrays)
        print(f"shard {shard}: {len(rows)} pairs", flush=True)
    merge_manifests(args.out, -(-args.num // SHARD))


if __name__ == "__main__":
    main()
