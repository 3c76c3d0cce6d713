"""Evaluate a stage-1 inpainter used directly as a dubber on held-out synthetic pairs.

For each scenario and held-out seed (never used in training: seeds from
STAGE1_EVAL_SEED_BASE + 10_000 on), the engine renders a pair (A, B) that differs only in the
mouth. The inpainter dubs video A with audio B; the engine's video B is the exact answer.
Reported per scenario (frame space, 256 px):
  mouth PSNR    inside the engine's mouth region (truth.mouth_mask, speech-independent)
  outside PSNR  outside the (dilated) inpainting mask, where the dub must not change anything
                (after compositing; raw_outside_psnr: the inpainter's own output there, crops)
  boundary PSNR in the feathered band of the mask (outside the mouth region): seams
  sync          LSE-C-like confidence of the tiny scorer with audio B (and P(sync))
for: ours, "copy the input video" (A as is), and the codec oracle (B's own crops through the
codec, composited and pasted back: what a perfect generator would score through this codec).

With `--pairs CONFIG` (a pair-generation YAML, e.g. configs/train/pairs_tiny_stage2.yaml) the
output is composited as `xdub make-pairs` composites V' (its `composite` region, and V's own
pixels under the engine's occluders with `keep_occluders`), and the references avoid frames
with those occluders: stage 1 as the chain uses it.
Without it, the whole inpainting mask (the inpainter's raw reach).

Usage: python scripts/eval_stage1_dubbing.py RUN_DIR/inpainter --out RUN_DIR/eval.json
       [--clips 4] [--seconds 1.6] [--steps 4] [--scorer DIR] [--pairs CONFIG]
Not importable; uses xdub.bench (metrics) and xdub.train (the inpainter) side by side.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from xdub.bench.metrics import psnr
from xdub.bench.sync_metrics import sync_scores
from xdub.conditioning import encode_frames, tensor_to_frames
from xdub.config import load
from xdub.config.face import BlendConfig
from xdub.config.synth import SCENARIOS
from xdub.config.train import STAGE1_EVAL_SEED_BASE, PairGenConfig
from xdub.data.crops import audio_windows_for, prepare_clip
from xdub.data.sources import ClipRecord
from xdub.face.align import warp_from_crop
from xdub.face.blend import paste_back
from xdub.face.mask import SUPPORT
from xdub.generation import composite
from xdub.models.syncnet import SyncScorer, load_shipped_scorer
from xdub.models.syncnet_features import crop_mouths, eye_roll, log_mel
from xdub.synth.clip import render_pair
from xdub.train.inpaint import inpaint_clip, load_inpainter
from xdub.train.pairgen import (
    SyncJudge,
    compose_input,
    known_occluders,
    psnr_outside,
    runs_inpainter,
    stage1_crops,
)

SCENARIO_NAMES = ("standard", "occlusion", "stylized", "nonhuman", "lighting")
SEED_BASE = STAGE1_EVAL_SEED_BASE + 10_000  # disjoint from training and sample seeds


def paste(frames: np.ndarray, crops: np.ndarray, clip) -> np.ndarray:
    """Paste composited crops back into the frames with the inpainting mask, no colour match."""
    blend = BlendConfig(color_match="none")
    c = clip.crops
    return np.stack([paste_back(f, x, a, blend, m)
                     for f, x, a, m in zip(frames, crops, c.affines, c.masks)])


def sync_of(scorer: SyncScorer | None, frames: np.ndarray, a, samples: np.ndarray) -> tuple[float, float]:
    """(LSE-C confidence, mean P(sync)) of frames with `samples`, mouth crops from A's truth."""
    if scorer is None:
        return float("nan"), float("nan")
    marks = a.truth.landmarks.astype(np.float64)
    roll = eye_roll(marks[:, 36:42].mean(1), marks[:, 42:48].mean(1))
    crops = crop_mouths(frames, marks[:, 48:68], a.truth.face_box.astype(np.float64), scorer.cfg, roll)
    scores = sync_scores(scorer, SyncScorer.normalize_crops(crops), log_mel(samples, scorer.cfg), a.fps)
    prob = SyncJudge(scorer).probability(frames, marks, a.truth.face_box, samples, a.fps)
    return scores.confidence, prob


def composited(raw: np.ndarray, clip, record: ClipRecord,
               pairs: PairGenConfig | None) -> np.ndarray:
    """The raw crops inside the inpainting mask, or where pair generation would put them."""
    if pairs is None:
        return composite(raw, clip.crops.crops, clip.crops.masks)
    return compose_input(clip, raw, known_occluders(record, clip), pairs)[0]


def evaluate_pair(inp, scorer, scenario: str, seed: int, seconds: float, steps: int,
                  scales: tuple[float | None, float | None] = (None, None),
                  pairs: PairGenConfig | None = None) -> dict:
    cfg = replace(SCENARIOS[scenario], duration=seconds)
    a, b = render_pair(seed, cfg)
    spec = inp.spec
    record = ClipRecord(f"{scenario}:{seed}", a.frames, a.fps, a.audio.samples,
                        a.truth.landmarks, a.truth.face_box, occluders=a.truth.occluder_mask)
    clip = prepare_clip(record, spec.face, inp.featurizer, spec.mask_hold_s)
    generator, ref_rng = torch.Generator().manual_seed(seed), np.random.default_rng(seed)
    if pairs is not None:  # stage 1 as pair generation runs it (`stage1_crops`)
        judge = SyncJudge(scorer) if scorer is not None else None
        run = replace(pairs, steps=steps, ref_scale=scales[0], audio_scale=scales[1])
        raw = stage1_crops(inp, judge, run, record, clip, b.audio.samples, generator, ref_rng,
                           known_occluders(record, clip))
    else:
        windows_b = audio_windows_for(inp.featurizer, b.audio.samples, a.fps, clip.num_frames)
        raw = inpaint_clip(inp, clip, windows_b, steps, generator, ref_rng, *scales)
    ours = paste(a.frames, composited(raw, clip, record, pairs), clip)
    # Codec oracle: B's crops (same alignment as A: the scene is identical) through the codec.
    b_record = replace(record, frames=b.frames)
    b_crops = prepare_clip(b_record, spec.face, inp.featurizer, spec.mask_hold_s).crops.crops
    recon = tensor_to_frames(inp.codec.decode(encode_frames(inp.codec, b_crops)))[0]
    oracle = paste(a.frames, composited(recon, clip, record, pairs), clip)
    mouth = a.truth.mouth_mask | b.truth.mouth_mask
    shape = a.frames.shape[:3]
    inpaint_region = np.stack([warp_from_crop(m, aff, shape[1:], "linear")
                               for m, aff in zip(clip.crops.masks, clip.crops.affines)])
    outside = inpaint_region < SUPPORT
    boundary = (inpaint_region >= SUPPORT) & (inpaint_region < 0.98) & ~mouth
    ran = pairs is None or runs_inpainter(pairs)  # retrieval at strength 0: nothing to judge
    row = {"scenario": scenario, "seed": seed,
           "raw_outside_psnr": psnr_outside(raw, clip.crops.crops, clip.crops.masks) if ran
           else float("nan")}
    for name, frames in (("ours", ours), ("copy", a.frames), ("oracle", oracle)):
        row[f"{name}_mouth_psnr"] = psnr(frames, b.frames, mouth)
        row[f"{name}_outside_psnr"] = psnr(frames, b.frames, outside)
        row[f"{name}_boundary_psnr"] = psnr(frames, b.frames, boundary)
        row[f"{name}_sync_conf"], row[f"{name}_p_sync"] = sync_of(scorer, frames, a, b.audio.samples)
    row["truth_sync_conf"], row["truth_p_sync"] = sync_of(scorer, b.frames, a, b.audio.samples)
    return row


def summarize(rows: list[dict]) -> dict:
    out = {}
    for scenario in dict.fromkeys(r["scenario"] for r in rows):
        group = [r for r in rows if r["scenario"] == scenario]
        keys = [k for k in group[0] if k not in ("scenario", "seed")]
        out[scenario] = {k: float(np.nanmean([r[k] for r in group])) for k in keys}
    keys = next(iter(out.values())).keys()
    out["all"] = {k: float(np.nanmean([r[k] for r in rows])) for k in keys}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inpainter", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=1.6)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--scorer", default="package", help="folder, 'package' or 'none'")
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIO_NAMES))
    parser.add_argument("--ref-scale", type=float, default=None, help="default: the inpainter's")
    parser.add_argument("--audio-scale", type=float, default=None)
    parser.add_argument("--pairs", type=Path, default=None,
                        help="composite as this pair-generation config does (default: the mask)")
    args = parser.parse_args()
    pairs = load(PairGenConfig, args.pairs) if args.pairs is not None else None
    torch.set_num_threads(1)
    inp = load_inpainter(args.inpainter)
    scorer = None
    if args.scorer != "none":
        scorer = load_shipped_scorer() if args.scorer == "package" else SyncScorer.from_pretrained(args.scorer)
    rows, start = [], time.time()
    for scenario in args.scenarios:
        for k in range(args.clips):
            rows.append(evaluate_pair(inp, scorer, scenario, SEED_BASE + k, args.seconds,
                                      args.steps, (args.ref_scale, args.audio_scale), pairs))
            print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v)
                              for k, v in rows[-1].items()}), flush=True)
    result = {"inpainter": str(args.inpainter), "version": inp.version, "steps": args.steps,
              "ref_scale": args.ref_scale, "audio_scale": args.audio_scale,
              "clips_per_scenario": args.clips, "seconds": args.seconds,
              "pairs": str(args.pairs) if args.pairs is not None else None,
              "minutes": (time.time() - start) / 60, "summary": summarize(rows), "rows": rows}
    args.out.write_text(json.dumps(result, indent=2))
    for scenario, values in result["summary"].items():
        print(f"{scenario:10s} " + " ".join(f"{k}={v:.2f}" for k, v in values.items()))


if __name__ == "__main__":
    main()
