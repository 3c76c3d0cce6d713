"""Training recipe of the tiny lip-sync scorer (`xdub.models.syncnet.SyncScorer`).

Data: clips rendered in memory by the procedural talking-character engine. Each clip becomes
mouth crops (from ground-truth landmarks) + a waveform; a pool of clips is held in memory and
partly re-rendered every `refresh_every` micro-batches so the model keeps seeing new
characters. Training runs on the one loop (`xdub.train.loop`).

Objective (`xdub.train.losses.contrastive_loss`; per anchor video window: the audio windows
of its own clip at offsets -K..K and beyond, plus all audio windows of the other clips in the
batch):
- InfoNCE over all B*(2K+1) audio windows: the offset-0 window of the anchor's own clip must
  win, so the model must be sharp in time (offset negatives) and in content (other clips);
- a sigmoid/BCE loss on the same cosines (SigLIP-style), which calibrates
  `SyncScorer.sync_probability`; offsets of +-1 frame are not used as BCE negatives because
  their audio overlaps the positive window by 80 %.
Run dir: the loop's (config.yaml, metrics.jsonl, loss.png, checkpoints/step_*) + final/.
Imports: torch, numpy, xdub.models, xdub.synth, xdub.config, xdub.train.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from xdub.config.sync import SyncScorerConfig, SyncTrainConfig
from xdub.models.syncnet import SyncScorer
from xdub.models.syncnet_features import (
    audio_window_starts,
    audio_windows,
    crop_mouths_68,
    log_mel,
    video_windows,
)
from xdub.train import loop
from xdub.train.batches import SyncBatch
from xdub.train.losses import contrastive_loss
from xdub.train.report import Panel

logger = logging.getLogger(__name__)

CLIP_SEEDS_PER_RUN = 1_000_000  # training clip k of run seed s uses seed s * this + k


@dataclass(frozen=True)
class SyncClip:
    """One clip as the scorer sees it: `crops: [T, h, w, C]` uint8, `samples: [N]` float32."""

    crops: np.ndarray
    samples: np.ndarray
    fps: float
    seed: int


ClipSource = Callable[[int], SyncClip]  # seed -> clip, deterministic


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def synthetic_clip_source(
    model_cfg: SyncScorerConfig, scenario: str = "mixed", seconds: float = 3.0, jitter: bool = True
) -> ClipSource:
    """Clips from the procedural engine, mouth-cropped from ground-truth 68-point landmarks.

    With `jitter`, each clip's crop is randomly shifted/scaled (seeded by the clip), each
    frame's landmarks get pixel noise (the scorer must tolerate imperfect face tracking), and
    noise at 15..45 dB SNR is added to the audio.
    """
    from xdub.config import replace
    from xdub.synth.clip import render_clip  # heavy import, only when training
    from xdub.synth.scenarios import get_scenario

    synth_cfg = replace(get_scenario(scenario), duration=seconds, fps=model_cfg.fps)

    def make(seed: int) -> SyncClip:
        clip = render_clip(seed, synth_cfg)
        rng = np.random.default_rng([seed, 7])
        marks = clip.truth.landmarks.astype(np.float64)  # [T, 68, 2], xdub-68 order
        scale = 1.0
        if jitter:
            width = float(np.median(np.ptp(marks[:, :17, 0], axis=1)))
            marks = marks + rng.normal(0.0, 0.006 * width, marks.shape)
            marks = marks + rng.normal(0.0, 0.03 * width, (1, 1, 2))
            scale = float(rng.uniform(0.9, 1.1))
        crops = crop_mouths_68(clip.frames, marks, model_cfg, scale)
        samples = clip.audio.samples.astype(np.float32)
        if jitter:  # background noise at 15..45 dB SNR
            snr_db = rng.uniform(15.0, 45.0)
            rms = float(np.sqrt(np.mean(samples**2)) + 1e-8)
            noise = rng.normal(0.0, rms * 10 ** (-snr_db / 20), samples.shape)
            samples = (samples + noise).astype(np.float32)
        return SyncClip(crops=crops, samples=samples, fps=float(clip.fps), seed=seed)

    return make


@dataclass
class _PoolEntry:
    crops: torch.Tensor  # [T, C, h, w] uint8
    mel: torch.Tensor  # [M, n_mels]
    fps: float
    seed: int


class WindowPool:
    """Clips held in memory; draws batches of (video window, offset audio windows)."""

    def __init__(self, cfg: SyncScorerConfig) -> None:
        self.cfg = cfg
        self.entries: list[_PoolEntry] = []

    def add(self, clip: SyncClip, slot: int | None = None) -> None:
        """Insert (or replace `slot` with) a clip."""
        entry = _PoolEntry(
            crops=torch.from_numpy(np.ascontiguousarray(clip.crops)).permute(0, 3, 1, 2),
            mel=log_mel(clip.samples, self.cfg),
            fps=clip.fps,
            seed=clip.seed,
        )
        if slot is None:
            self.entries.append(entry)
        else:
            self.entries[slot] = entry

    def sample(
        self,
        rng: np.random.Generator,
        batch_size: int,
        max_shift: int,
        anchors: int = 1,
        augment: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch of `batch_size` clips, each with `anchors` consecutive video windows.

        Returns video `[B, R, W*C, h, w]` in [-1, 1] (R = anchors) and audio
        `[B, R + 2K, L, n_mels]`: audio window j of a clip sits at offset j - r - K from its
        video window r, so every anchor sees offsets -K..K (and more) of its own clip.
        """
        cfg, window = self.cfg, self.cfg.window_frames
        picks = rng.choice(len(self.entries), batch_size, replace=batch_size > len(self.entries))
        videos, audios = [], []
        for idx in picks:
            entry = self.entries[int(idx)]
            num = entry.crops.shape[0] - window + 1  # video windows in the clip
            assert num >= anchors, f"clip {entry.seed} too short for {anchors} anchors"
            lo = max_shift if num - anchors - max_shift > max_shift else 0
            hi = num - anchors - lo
            start = int(rng.integers(lo, hi + 1))
            frames = entry.crops[start : start + anchors + window - 1].float() / 127.5 - 1.0
            videos.append(video_windows(frames, window))  # [R, W*C, h, w]
            starts = audio_window_starts(anchors + 2 * max_shift, entry.fps, cfg, start - max_shift)
            audios.append(audio_windows(entry.mel, starts, cfg.audio_window_frames))
        video_batch = torch.stack(videos)
        if augment:
            video_batch = _augment_video(video_batch, rng)
        return video_batch, torch.stack(audios)


def _augment_video(video: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Per-clip contrast/brightness jitter and horizontal flips (mouths are symmetric).

    video: [B, R, W*C, h, w]; one draw per clip so its anchors stay consistent.
    """
    batch = video.shape[0]
    contrast = torch.from_numpy(rng.uniform(0.7, 1.3, (batch, 1, 1, 1, 1))).float()
    brightness = torch.from_numpy(rng.uniform(-0.2, 0.2, (batch, 1, 1, 1, 1))).float()
    video = (video * contrast + brightness).clamp(-1.0, 1.0)
    flip = torch.from_numpy(rng.random(batch) < 0.5)
    return torch.where(flip[:, None, None, None, None], video.flip(-1), video)


# ---------------------------------------------------------------------------------------------
# Batches: a pool of rendered clips, partly re-rendered every `refresh_every` micro-batches
# ---------------------------------------------------------------------------------------------


def _clip_seed(cfg: SyncTrainConfig, index: int) -> int:
    return cfg.loop.seed * CLIP_SEEDS_PER_RUN + index


def _refresh(cfg: SyncTrainConfig, number: int) -> list[tuple[int, int]]:
    """(pool slot, new clip seed) of refresh `number` (1, 2, ...): a function of the config
    only, so a resumed run rebuilds the pool it had without re-rendering the clips in between."""
    count = min(cfg.refresh_clips, cfg.pool_clips)
    slots = np.random.default_rng([cfg.loop.seed, 1, number]).choice(cfg.pool_clips, count, False)
    first = cfg.pool_clips + (number - 1) * count
    return [(int(slot), _clip_seed(cfg, first + k)) for k, slot in enumerate(slots)]


def window_batches(cfg: SyncTrainConfig, source: ClipSource, consumed: int) -> Iterator[SyncBatch]:
    """Endless batches from micro-batch `consumed` on; batch i is the same whether or not the
    run was interrupted before it (its pool and its random draws depend on i only)."""
    every = cfg.refresh_every
    seeds = [_clip_seed(cfg, k) for k in range(cfg.pool_clips)]
    for number in range(1, (consumed - 1) // every + 1 if consumed else 1):
        for slot, seed in _refresh(cfg, number):
            seeds[slot] = seed
    pool = WindowPool(cfg.model)
    for seed in seeds:
        pool.add(source(seed))
    index = consumed
    while True:
        if index > 0 and index % every == 0:
            for slot, seed in _refresh(cfg, index // every):
                pool.add(source(seed), slot=slot)
        rng = np.random.default_rng([cfg.loop.seed, 2, index])
        yield SyncBatch(*pool.sample(rng, cfg.loop.batch_size, cfg.max_shift,
                                     cfg.anchors_per_clip))
        index += 1


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------

# Loss parts and offset / clip accuracy over steps (loss.png).
LOSS_PANELS = (
    Panel(("loss", "nce", "bce"), log_y=True),
    Panel(("offset_acc", "clip_acc"), ylim=(0.0, 1.0)),
)


class ScorerObjective(nn.Module):
    """The scorer with its contrastive loss as `forward`: the module the loop trains."""

    def __init__(self, scorer: SyncScorer, bce_weight: float) -> None:
        super().__init__()
        self.scorer, self.bce_weight = scorer, bce_weight

    def forward(self, batch: SyncBatch) -> tuple[torch.Tensor, dict[str, float]]:
        return contrastive_loss(self.scorer, batch.video, batch.audio, self.bce_weight)


def train_sync_scorer(
    cfg: SyncTrainConfig, run_dir: str | Path, clip_source: ClipSource | None = None
) -> SyncScorer:
    """Train (or resume from `run_dir/checkpoints`), write `run_dir/final/` (also when the
    time budget stopped the run) and return the scorer in eval mode."""
    run_dir = Path(run_dir)
    source = clip_source or synthetic_clip_source(cfg.model, cfg.scenario, cfg.clip_seconds)
    torch.manual_seed(cfg.loop.seed)
    objective = ScorerObjective(SyncScorer(cfg.model).train(), cfg.bce_weight)
    result = loop.run(cfg.loop, run_dir, objective, lambda model, batch: model(batch),
                      partial(window_batches, cfg, source), run_config=cfg,
                      title="xdub sync scorer", panels=LOSS_PANELS)
    if result.stopped == "budget":
        logger.warning("time budget of %.1f min spent at step %d", cfg.loop.max_minutes,
                       result.step)
    scorer = loop.load_final_weights(objective, run_dir).scorer.eval()
    scorer.save_pretrained(run_dir / "final")
    return scorer
