"""How much does a stage-2 editor's clean estimate depend on the audio? (issue #12 diagnostic)

For windows of a pair store, noise the target to sigma, ask the editor for x0 with the audio
and with the audio zeroed (the training "no audio" stream), and report mouth-region latent MSE
against the target and against the source, next to four predictors that need no network:

  copy         the source mouth (what a copying editor returns)
  clip mean    the target clip's own mean mouth (the best audio-free guess of one clip)
  audio NN     the target mouth of the frame of the SAME clip whose audio window (the DiT's
               log-mel input) is nearest (>= 3 frames away): a crude audio-driven predictor
  scorer kNN5  the mean target mouth of the 5 frames of the clip whose sync-scorer audio
               embeddings are closest (>= 3 frames away): audio-driven and averaged
  random frame the target mouth of a random other frame of the clip

An editor that uses the audio has x0-with-audio clearly below x0-without-audio at high sigma.
Session 6 (design.md 3.1): both are within 2-12% of each other for every editor trained so far,
and both sit near the clip-mean mouth, so lip-following comes only from guidance.

  python scripts/audio_reliance.py --run /work/runs/s2_long232 --pairs /work/runs/pairs_oracle

`--run` is a `xdub train stage2` run folder (its base/config.yaml and base/final/dit are read;
`--dit` picks another DiT folder, e.g. an exported editor's dit/). Not importable.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import torch

from xdub.audio import build_featurizer
from xdub.conditioning import latent_region
from xdub.config.stage2 import load_stage2
from xdub.data.dataset import collate_windows
from xdub.data.pairs import PairStore
from xdub.diffusion.objectives import noisy_input
from xdub.models.fusion import load_dit
from xdub.models.syncnet import SyncScorer, load_shipped_scorer
from xdub.models.syncnet_features import audio_window_starts, audio_windows
from xdub.train.batches import EditBatch
from xdub.train.inpaint import load_codec
from xdub.train.pair_windows import PairWindows
from xdub.train.stage2 import StepContext, encode_with_region
from xdub.train.stage2_parts import clip_encoder


def region_mse(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, weight) -> float:
    """Mean squared difference inside a [0, 1] region weight (broadcast over channels)."""
    a, b, weight = (torch.as_tensor(np.asarray(x)) for x in (a, b, weight))
    weight = weight.expand_as(a).float()
    return float(((a - b) ** 2 * weight).sum() / weight.sum().clamp(min=1e-9))


@torch.no_grad()
def baselines(windows: PairWindows, scorer: SyncScorer, clips: int,
              rng: np.random.Generator) -> dict[str, float]:
    """The network-free predictors, per frame of the first `clips` pairs."""
    errors: dict[str, list[float]] = {"copy": [], "clip mean": [], "audio NN": [],
                                      "scorer kNN5": [], "random frame": []}
    for index in range(min(clips, len(windows))):
        clip = windows.clip(index)
        target, source = clip.target_latents, clip.input_latents  # [C, F, h, w]
        region = latent_region(torch.from_numpy(clip.region[None]).float() / 255.0, 1,
                               clip.input_crops.shape[1] // target.shape[-1])[0].numpy()
        audio = np.asarray(clip.audio_windows).reshape(target.shape[1], -1)
        mean = target.mean(axis=1)
        # scorer audio window i is centred on video window i..i+W-1: offset -W//2 centres it
        # on frame i
        starts = audio_window_starts(target.shape[1], clip.fps, scorer.cfg,
                                     offset=-(scorer.cfg.window_frames // 2))
        embedding = scorer.embed_audio(audio_windows(clip.mel, starts,
                                                     scorer.cfg.audio_window_frames)).numpy()
        for t in range(target.shape[1]):
            others = np.array([s for s in range(target.shape[1]) if abs(s - t) >= 3])
            nearest = others[np.argmin(((audio[others] - audio[t]) ** 2).sum(axis=1))]
            w = region[t][None]
            errors["copy"].append(region_mse(source[:, t], target[:, t], w))
            errors["clip mean"].append(region_mse(mean, target[:, t], w))
            errors["audio NN"].append(region_mse(target[:, nearest], target[:, t], w))
            closest = others[np.argsort(-(embedding[others] @ embedding[t]))[:5]]
            errors["scorer kNN5"].append(region_mse(target[:, closest].mean(axis=1),
                                                    target[:, t], w))
            errors["random frame"].append(region_mse(target[:, rng.choice(others)], target[:, t], w))
    return {k: float(np.mean(v)) for k, v in errors.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="stage-2 run folder")
    parser.add_argument("--pairs", type=Path, required=True, help="pair folder to probe on")
    parser.add_argument("--dit", type=Path, default=None, help="DiT folder (default: base)")
    parser.add_argument("--sigmas", default="0.95,0.6,0.3")
    parser.add_argument("--batches", type=int, default=8, help="batches of 6 windows")
    parser.add_argument("--clips", type=int, default=60, help="pairs for the baselines")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = load_stage2(args.run / "base" / "config.yaml")
    codec = load_codec(cfg.codec, cfg.codec_weights)
    d, scorer = cfg.data, load_shipped_scorer().eval()
    windows = PairWindows(PairStore(args.pairs), build_featurizer(cfg.audio), d.window_frames,
                          d.ref_frames, d.ref_min_gap, seed=7, scorer=scorer.cfg,
                          encoder=clip_encoder(codec))
    model = load_dit(args.dit or args.run / "base" / "final" / "dit").eval()
    ctx = StepContext(cfg, codec, None, None, None, None)  # type: ignore[arg-type]
    gen, rows = torch.Generator().manual_seed(0), {}
    with torch.no_grad():
        for k in range(args.batches):
            samples = [windows.sample(1000 + 6 * k + j) for j in range(6)]
            batch = EditBatch.from_collated(collate_windows(samples))
            target, cond, region = encode_with_region(ctx, batch)
            weight = region[:, None]
            source = cond.source_latents[:, : target.shape[1]]
            silent = dataclasses.replace(cond, audio_features=torch.zeros_like(cond.audio_features))
            for sigma in (float(s) for s in args.sigmas.split(",")):
                x_t = noisy_input(target, torch.randn(target.shape, generator=gen), sigma)
                steps = torch.full((target.shape[0],), sigma * cfg.diffusion.num_train_timesteps)
                for name, c in (("with audio", cond), ("audio zeroed", silent)):
                    x0 = x_t - sigma * model(x_t, steps, c)
                    row = rows.setdefault(f"sigma {sigma:.2f}, {name}", ([], []))
                    row[0].append(region_mse(x0, target, weight))
                    row[1].append(region_mse(x0, source, weight))
    print("mouth-region latent MSE        vs target   vs source")
    for name, (to_target, to_source) in rows.items():
        print(f"  x0, {name:26s} {np.mean(to_target):8.4f} {np.mean(to_source):10.4f}")
    for name, value in baselines(windows, scorer, args.clips, np.random.default_rng(0)).items():
        print(f"  {name:30s} {value:8.4f}")


if __name__ == "__main__":
    main()
