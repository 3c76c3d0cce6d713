"""Stage-2 helpers: the frozen sync scorer, and periodic before/after samples of the editor.

Samples: for the first `sample_clips` pairs, the editor (EMA weights, the product's
`ModelGenerator` and chunk runner) re-dubs V' with the pair's audio A; the row shows
[input V' | output | target V] for a few frames in `grid.png`, and each clip is written as
an MP4 side by side.
Imports: numpy, torch, xdub.{audio, config, generation, models, train}.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from xdub.audio import build_featurizer
from xdub.config.stage2 import Stage2Config
from xdub.config.sync import SCORER_PRESETS
from xdub.generation import editor_generator, generate_clip
from xdub.models.codec import VideoCodec
from xdub.models.syncnet import SyncScorer, load_shipped_scorer
from xdub.train.editor import dubber_config
from xdub.train.pair_windows import PairWindows
from xdub.train.samples import upscale, write_sample_videos

log = logging.getLogger(__name__)


def load_scorer(weights: str) -> SyncScorer | None:
    """Frozen scorer: "package" (shipped), a folder, "random" (tests) or "" (none)."""
    if not weights:
        return None
    if weights == "package":
        scorer = load_shipped_scorer()
    elif weights == "random":
        log.warning("sync scorer with RANDOM weights (tests only)")
        torch.manual_seed(0)
        scorer = SyncScorer(SCORER_PRESETS["test"])
    else:
        scorer = SyncScorer.from_pretrained(weights)
    return scorer.eval().requires_grad_(False)


def clip_encoder(codec: VideoCodec, chunk: int = 64):
    """crops `[T, S, S, 3]` uint8 -> latents `[C, T, h, w]` float32 numpy, `chunk` frames at a
    time (a per-frame codec: the same as encoding any window of them)."""
    from xdub.conditioning import encode_frames

    def encode(crops: np.ndarray) -> np.ndarray:
        parts = [encode_frames(codec, crops[i:i + chunk])[0] for i in range(0, len(crops), chunk)]
        return torch.cat(parts, dim=1).float().cpu().numpy()

    return encode


def write_pair_samples(cfg: Stage2Config, dit: torch.nn.Module, codec: VideoCodec,
                       pairs: PairWindows, folder: Path, adapter: str | None,
                       scale: int = 2) -> list[Path]:
    """Re-dub the first pairs with the current EMA editor; write grid.png + clip_K.mp4."""
    experts = ((adapter, adapter),) if adapter is not None else ()
    spec = dubber_config(cfg, dict(experts), "sample")
    generator = editor_generator(spec, dit, codec, build_featurizer(cfg.audio), experts,
                                 cfg.sample_steps, name="stage2-sample")
    videos = []
    for k in range(min(cfg.sample_clips, len(pairs))):
        clip = pairs.clip(k)
        out = generate_clip(generator, clip.input_crops, clip.audio_windows, spec.chunk_frames,
                            spec.overlap, torch.Generator().manual_seed(k),
                            np.random.default_rng(k), cfg.data.ref_min_gap)
        row = np.concatenate([clip.input_crops, out, clip.target_crops], axis=2)
        videos.append((upscale(row, scale), clip.fps))
    return write_sample_videos(folder, videos)
