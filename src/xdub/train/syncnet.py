"""Training recipe of the tiny lip-sync scorer (`xdub.models.syncnet.SyncScorer`).

Data: clips rendered in memory by the procedural talking-character engine. Each clip becomes
mouth crops (from ground-truth landmarks) + a waveform; a pool of clips is held in memory and
partly re-rendered every `refresh_every` steps so the model keeps seeing new characters.

Objective (per anchor video window: the audio windows of its own clip at offsets -K..K and
beyond, plus all audio windows of the other clips in the batch):
- InfoNCE over all B*(2K+1) audio windows: the offset-0 window of the anchor's own clip must
  win, so the model must be sharp in time (offset negatives) and in content (other clips);
- a sigmoid/BCE loss on the same cosines (SigLIP-style), which calibrates
  `SyncScorer.sync_probability`; offsets of +-1 frame are not used as BCE negatives because
  their audio overlaps the positive window by 80 %.
Run dir: config.yaml, git_sha.txt, metrics.jsonl, loss_curve.png, checkpoints/last/, final/.
Imports: torch, numpy, xdub.models, xdub.synth, xdub.config, xdub.train.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from xdub.config.sync import SyncScorerConfig, SyncTrainConfig
from xdub.models.syncnet import SyncScorer
from xdub.models.syncnet_features import (
    audio_window_starts,
    audio_windows,
    crop_mouths_68,
    log_mel,
    video_windows,
)
from xdub.train.checkpointing import save_last
from xdub.train.loop import warmup_cosine, write_run_files
from xdub.train.report import Panel, append_metrics, plot_panels, read_metrics

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
# Objective
# ---------------------------------------------------------------------------------------------


def contrastive_loss(
    model: SyncScorer, video: torch.Tensor, audio: torch.Tensor, bce_weight: float = 1.0
) -> tuple[torch.Tensor, dict[str, float]]:
    """InfoNCE over offsets and clips + calibrating BCE.

    video: [B, R, W*C, h, w]; audio: [B, R + 2K, L, n_mels] (layout of `WindowPool.sample`).
    """
    batch, anchors = video.shape[:2]
    span = audio.shape[1]
    shift = (span - anchors) // 2  # K
    video_emb = model.embed_video(video.flatten(0, 1))  # [B*R, D]
    audio_emb = model.embed_audio(audio.flatten(0, 1))  # [B*span, D]
    cosine = video_emb @ audio_emb.T  # [B*R, B*span]
    clip = torch.arange(batch).repeat_interleave(anchors)  # clip of each anchor
    anchor = torch.arange(anchors).repeat(batch)  # position r of each anchor in its clip
    target = clip * span + anchor + shift
    rows = torch.arange(batch * anchors)
    nce = F.cross_entropy(cosine * model.log_temperature.exp().clamp(max=100.0), target)
    # BCE: the positive, and every candidate except the own clip's +-1 frame offsets.
    logits = model.prob_scale * cosine + model.prob_bias
    positive = torch.zeros_like(cosine, dtype=torch.bool)
    positive[rows, target] = True
    near = torch.zeros_like(positive)
    near[rows, target - 1] = True
    near[rows, target + 1] = True
    bce = 0.5 * (
        F.softplus(-logits[positive]).mean() + F.softplus(logits[~positive & ~near]).mean()
    )
    # Offset accuracy: argmax over the anchor's own offsets -K..K.
    own = cosine[rows[:, None], (clip * span + anchor)[:, None] + torch.arange(2 * shift + 1)]
    logs = {
        "nce": float(nce.detach()),
        "bce": float(bce.detach()),
        "offset_acc": float((own.argmax(dim=1) == shift).float().mean()),
        "clip_acc": float((cosine.argmax(dim=1) // span == clip).float().mean()),
    }
    return nce + bce_weight * bce, logs


# ---------------------------------------------------------------------------------------------
# Loop
# ---------------------------------------------------------------------------------------------


def _lr_at(step: int, cfg: SyncTrainConfig) -> float:
    """Linear warmup then cosine decay to lr / 20."""
    return cfg.lr * warmup_cosine(step, cfg.steps, cfg.warmup_steps, 0.05)


# Loss parts and offset / clip accuracy over steps (loss_curve.png).
LOSS_PANELS = (
    Panel(("loss", "nce", "bce"), log_y=True),
    Panel(("offset_acc", "clip_acc"), ylim=(0.0, 1.0)),
)


def _build_or_resume(
    cfg: SyncTrainConfig, run_dir: Path
) -> tuple[SyncScorer, torch.optim.Optimizer, dict]:
    """Fresh model/optimizer/state, or the ones saved in `run_dir/checkpoints/last`."""
    last = run_dir / "checkpoints" / "last"
    if (last / "state.json").is_file():
        model = SyncScorer.from_pretrained(last).train()
        optim = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        optim.load_state_dict(torch.load(last / "optimizer.pt", weights_only=True))
        state = json.loads((last / "state.json").read_text())
        logger.info("resumed from %s at step %d", last, state["step"])
        return model, optim, state
    torch.manual_seed(cfg.seed)
    model = SyncScorer(cfg.model).train()
    optim = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    state = {
        "step": 0,
        "next_clip": 0,
        "pool_seeds": [],
        "elapsed_s": 0.0,
        "cpu_s": 0.0,
        "rng": None,
    }
    return model, optim, state


def _optimizer_step(
    model: SyncScorer,
    optim: torch.optim.Optimizer,
    video: torch.Tensor,
    audio: torch.Tensor,
    cfg: SyncTrainConfig,
    step: int,
) -> tuple[float, dict[str, float]]:
    """One AdamW step at the scheduled learning rate, with gradient-norm clipping."""
    for group in optim.param_groups:
        group["lr"] = _lr_at(step, cfg)
    loss, logs = contrastive_loss(model, video, audio, cfg.bce_weight)
    optim.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optim.step()
    return float(loss.detach()), logs


def _log_row(
    metrics: Path, step: int, loss: float, logs: dict, state: dict, cfg: SyncTrainConfig
) -> None:
    """Append one metrics.jsonl row and a log line."""
    row = {
        "step": step,
        "loss": loss,
        "lr": _lr_at(step, cfg),
        "time_s": round(state["elapsed_s"], 1),
        "cpu_s": round(state["cpu_s"], 1),
        **logs,
    }
    append_metrics(metrics, row)
    logger.info("step %d loss %.4f offset_acc %.2f", step, loss, logs["offset_acc"])


def train_sync_scorer(
    cfg: SyncTrainConfig, run_dir: str | Path, clip_source: ClipSource | None = None
) -> SyncScorer:
    """Train (or resume from `run_dir/checkpoints/last`) and return the scorer in eval mode."""
    run_dir = Path(run_dir)
    torch.set_num_threads(cfg.num_threads)
    # 1. Run files, model, optimizer, RNG (all restored on resume).
    write_run_files(run_dir, cfg)
    source = clip_source or synthetic_clip_source(cfg.model, cfg.scenario, cfg.clip_seconds)
    model, optim, state = _build_or_resume(cfg, run_dir)
    cpu_began = time.process_time() - state["cpu_s"]  # pool rendering counts too
    wall_began = time.monotonic() - state["elapsed_s"]
    rng = np.random.default_rng(cfg.seed)
    if state["rng"] is not None:
        rng.bit_generator.state = state["rng"]
    # 2. Fill the clip pool (same seeds as before a resume).
    pool = WindowPool(cfg.model)
    seeds = state["pool_seeds"] or [
        cfg.seed * CLIP_SEEDS_PER_RUN + k for k in range(cfg.pool_clips)
    ]
    for seed in seeds:
        pool.add(source(seed))
    state["next_clip"] = max(state["next_clip"], len(seeds))
    # 3. Steps: refresh pool, sample, AdamW step, log, checkpoint, stop on the CPU budget.
    metrics = run_dir / "metrics.jsonl"
    while state["step"] < cfg.steps:
        step = state["step"]
        if step > 0 and step % cfg.refresh_every == 0:
            _refresh_pool(pool, source, cfg, state, rng)
        video, audio = pool.sample(rng, cfg.batch_size, cfg.max_shift, cfg.anchors_per_clip)
        loss, logs = _optimizer_step(model, optim, video, audio, cfg, step)
        state.update(
            step=step + 1,
            elapsed_s=time.monotonic() - wall_began,
            cpu_s=time.process_time() - cpu_began,
        )
        if step % cfg.log_every == 0 or state["step"] == cfg.steps:
            _log_row(metrics, step, loss, logs, state, cfg)
        out_of_time = state["cpu_s"] > cfg.max_cpu_minutes * 60
        if state["step"] % cfg.ckpt_every == 0 or state["step"] == cfg.steps or out_of_time:
            state.update(pool_seeds=[e.seed for e in pool.entries], rng=rng.bit_generator.state)
            save_last(run_dir / "checkpoints", model, optim, state)
        if out_of_time:
            logger.warning(
                "CPU budget of %.1f min spent at step %d", cfg.max_cpu_minutes, step + 1
            )
            break
    # 4. Final weights and loss curve.
    model.eval()
    model.save_pretrained(run_dir / "final")
    plot_panels(read_metrics(metrics), run_dir / "loss_curve.png", LOSS_PANELS)
    return model


def _refresh_pool(
    pool: WindowPool,
    source: ClipSource,
    cfg: SyncTrainConfig,
    state: dict,
    rng: np.random.Generator,
) -> None:
    """Replace `refresh_clips` random pool slots with newly rendered clips."""
    count = min(cfg.refresh_clips, len(pool.entries))
    for slot in rng.choice(len(pool.entries), count, replace=False):
        pool.add(source(cfg.seed * CLIP_SEEDS_PER_RUN + state["next_clip"]), slot=int(slot))
        state["next_clip"] += 1
