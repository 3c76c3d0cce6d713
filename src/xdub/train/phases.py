"""Timestep-adaptive multi-phase learning: phase sub-runs, phase sampling, phase objectives.

The sigma axis is split into three phases by `xdub.diffusion.PhaseMap` (boundaries from the
`DiffusionConfig`, shared with sampling):

    structure  (high noise)  full-frame flow loss: pose, head, layout must come out right
    lip        (mid noise)   flow loss weighted inside the mouth region + a sync loss from the
                             frozen scorer on the decoded clean estimate x0 = x_t - sigma * v
    texture    (low noise)   Laplacian-pyramid L1 of the decoded x0 against the decoded target
                             (the codec's own reconstruction, so codec error is not penalised)

Training is a list of sub-runs (`plan_subruns`), each one `xdub.train.loop.run`:
- "single": one model, all sigmas, the stage-1 style objective (the ablation's baseline);
- "lora": a shared base on all sigmas with phase-aware objectives, then one LoRA expert per
  phase trained only on its sigma range (X-Dub paper); sampling switches experts by sigma;
- "sequential": full-weight SFT on one phase after another, `focus` of each phase's samples
  inside its range (the public release's multi-stage fine-tuning).

How the boundaries were chosen (`measure_lip_band`): on the stage-1 model and a held-out
batch, for each sigma on a grid, noise the batch and measure the audio attribution inside the
mouth, RMS of `v(ref+audio) - v(ref)`; the lip phase is the band where it is >= half its peak
(`active_range`). Imports: torch, numpy, xdub.{config, diffusion, face, models}.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from xdub.config.face import AlignConfig
from xdub.config.stage2 import PhaseObjectiveConfig, PhaseScheduleConfig
from xdub.config.sync import SyncScorerConfig
from xdub.diffusion import (
    PHASES,
    Phase,
    PhaseMap,
    TrainSigmaSampler,
    active_range,
    noisy_input,
    per_sigma_profile,
    predict_x0,
)
from xdub.face.align import template_landmarks
from xdub.models.codec import VideoCodec
from xdub.models.syncnet import SyncScorer
from xdub.train.losses import laplacian_l1, region_flow_loss, sync_loss_on_frames

# ---------------------------------------------------------------------------------------------
# Sub-runs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubRun:
    """One `loop.run` of stage 2: which sigmas, which weights train, for how many steps."""

    name: str  # sub-folder of the stage-2 run dir
    steps: int
    phase: Phase | None = None  # None = all sigmas
    focus: float = 1.0  # share of samples drawn inside `phase`'s range
    adapter: str | None = None  # LoRA expert trained on a frozen base (None = full weights)
    lr_scale: float = 1.0
    baseline: bool = False  # stage-1 style objective (no phase terms): the single-phase run


def _split(total: int, shares: tuple[float, ...]) -> list[int]:
    """Integer steps per share summing to `total` (largest remainders)."""
    raw = [total * s / sum(shares) for s in shares]
    steps = [math.floor(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: steps[i] - raw[i])[: total - sum(steps)]:
        steps[i] += 1
    return steps


def plan_subruns(cfg: PhaseScheduleConfig, total_steps: int) -> list[SubRun]:
    """The sub-runs of a phase schedule; their steps sum to `total_steps` (equal compute)."""
    if cfg.mode == "single":
        return [SubRun("single", total_steps, baseline=True)]
    if cfg.mode == "lora":
        base = round(total_steps * cfg.base_fraction)
        per_phase = _split(total_steps - base, cfg.phase_shares)
        runs = [SubRun("base", base)] if base else []
        return runs + [SubRun(f"expert_{p}", n, p, 1.0, p, cfg.expert_lr_scale)
                       for p, n in zip(PHASES, per_phase) if n]
    per_phase = _split(total_steps, cfg.phase_shares)
    return [SubRun(f"sft_{p}", n, p, cfg.focus) for p, n in zip(PHASES, per_phase) if n]


def sample_phase_sigmas(sampler: TrainSigmaSampler, phase_map: PhaseMap, run: SubRun,
                        batch: int, gen: torch.Generator) -> torch.Tensor:
    """`[B]` sigmas: with probability `run.focus` inside the sub-run's phase, else anywhere.

    Both candidates and the coin are always drawn, so the random stream (and a resumed run)
    does not depend on the outcome.
    """
    anywhere = sampler(batch, gen)
    if run.phase is None:
        return anywhere
    inside = sampler(batch, gen, sigma_range=phase_map.sigma_range(run.phase))
    coin = torch.rand(batch, generator=gen) < run.focus
    return torch.where(coin, inside, anywhere)


# ---------------------------------------------------------------------------------------------
# Where the scorer looks on an aligned crop (the losses themselves: xdub.train.losses)
# ---------------------------------------------------------------------------------------------


def mouth_box(crop_size: int, align: AlignConfig, scorer: SyncScorerConfig,
              fractions: tuple[float, ...] = ()) -> tuple[float, ...]:
    """`(cx, cy, w, h)` in crop pixels of the scorer's mouth crop on an aligned face crop.

    Aligned crops put every face at about the same place, so one box serves all frames:
    `fractions` = (centre x, centre y, width) of the crop side when measured on the data,
    else from the mean face as aligned crops place it (`face.align.template_landmarks`):
    centre = mean lip point, width = `crop_scale` x jaw width (the rule
    `syncnet_features.mouth_crop_boxes` uses on frames). Height follows the scorer's crop
    aspect.
    """
    aspect = scorer.crop_height / scorer.crop_width
    if fractions:
        cx, cy, width = (f * crop_size for f in fractions)
        return float(cx), float(cy), float(width), float(width * aspect)
    crop = template_landmarks(crop_size, align)
    centre = crop[48:68].mean(axis=0)
    width = scorer.crop_scale * float(crop[:17, 0].max() - crop[:17, 0].min())
    return float(centre[0]), float(centre[1]), width, width * aspect


# ---------------------------------------------------------------------------------------------
# The phase objective
# ---------------------------------------------------------------------------------------------


@dataclass
class PhaseBatch:
    """Tensors of one micro-batch the objective needs (latent layout [B, C, F, h, w])."""

    pred_v: torch.Tensor
    target_v: torch.Tensor
    x_t: torch.Tensor
    sigma: torch.Tensor  # [B]
    target_latents: torch.Tensor  # clean target x0
    region: torch.Tensor  # [B, F, h, w] mouth region in [0, 1]
    frame_valid: torch.Tensor  # [B, F] 1 = frame carries loss (0 = clean motion frame)
    mel_windows: torch.Tensor | None = None  # [B, F - W + 1, L, n_mels] for the sync loss


def middle_window(scorer: SyncScorer, frames: int) -> tuple[int, int]:
    """First and end latent frame of the scorer window in the middle of `frames` (the tiny
    codec keeps one latent frame per video frame: mel window i belongs to frames i .. i+W-1)."""
    first = (frames - scorer.cfg.window_frames) // 2
    return first, first + scorer.cfg.window_frames


def decoded_sync_loss(codec: VideoCodec, scorer: SyncScorer, box: tuple[float, ...],
                      latents: torch.Tensor, mel_windows: torch.Tensor) -> torch.Tensor:
    """Scorer loss -log P(sync) of one window of clean latents `[B, C, W, h, w]` against its
    mel windows `[B, 1, L, n_mels]`, decoded with gradient (the expert loss of Wav2Lip and
    LatentSync, on whatever predicts the clean mouth: the editor's x0 or the lip prior)."""
    return sync_loss_on_frames(scorer, codec.decode(latents), mel_windows, box)


class PhaseObjective:
    """Per-sample phase-aware loss; `baseline=True` is the stage-1 style single objective."""

    def __init__(self, cfg: PhaseObjectiveConfig, phase_map: PhaseMap, codec: VideoCodec,
                 scorer: SyncScorer | None, box: tuple[float, ...] | None) -> None:
        self.cfg, self.phase_map, self.codec = cfg, phase_map, codec
        self.scorer, self.box = scorer, box

    def __call__(self, b: PhaseBatch, baseline: bool) -> tuple[torch.Tensor, dict[str, float]]:
        """Scalar loss and float logs (per-phase parts averaged over their samples)."""
        phase_ids = self.phase_map.phase_ids(b.sigma)
        is_lip = phase_ids == PHASES.index("lip")
        if baseline:
            weight = torch.full_like(b.sigma, self.cfg.baseline_mouth_weight)
        else:
            is_structure = phase_ids == PHASES.index("structure")
            weight = torch.where(is_lip, self.cfg.mouth_weight,
                                 torch.where(is_structure, self.cfg.structure_mouth_weight, 1.0))
            weight = weight.to(b.sigma)
        flow = region_flow_loss(b.pred_v, b.target_v, b.region, weight, b.frame_valid)
        if self.cfg.flow_weighting == "x0":
            flow = flow * b.sigma.float().square()
        loss = flow.mean()
        logs = {"flow": float(flow.detach().mean())}
        for pid, name in enumerate(PHASES):
            chosen = phase_ids == pid
            if chosen.any():
                logs[f"flow_{name}"] = float(flow.detach()[chosen].mean())
        if baseline:
            return loss, logs
        extra, extra_logs = self._pixel_terms(b, phase_ids)
        logs.update(extra_logs)
        return loss + extra, logs

    def _pixel_terms(self, b: PhaseBatch,
                     phase_ids: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Sync (lip samples) and texture (texture samples) losses on decoded x0 estimates.

        To keep them cheap only the frames a term needs are decoded: the middle scorer window
        of each lip sample, `texture_frames` evenly spaced frames of each texture sample.
        Each term is averaged over its samples and scaled by their share of the batch.
        """
        cfg, total, logs = self.cfg, b.sigma.new_zeros(()), {}
        batch, frames = b.sigma.shape[0], b.x_t.shape[2]
        use_sync = cfg.sync_weight > 0 and self.scorer is not None and b.mel_windows is not None
        lip = phase_ids == PHASES.index("lip")
        if use_sync and lip.any():
            first, last = middle_window(self.scorer, frames)
            sync = decoded_sync_loss(self.codec, self.scorer, self.box,
                                     self._clean_estimate(b, lip, range(first, last)),
                                     b.mel_windows[lip][:, first:first + 1])
            total = total + cfg.sync_weight * sync * lip.sum() / batch
            logs["sync"] = float(sync.detach())
        tex = phase_ids == PHASES.index("texture")
        if cfg.texture_weight > 0 and tex.any():
            picks = np.linspace(0, frames - 1, min(cfg.texture_frames, frames)).round()
            picks = sorted({int(i) for i in picks})
            decoded = self.codec.decode(self._clean_estimate(b, tex, picks))
            with torch.no_grad():
                reference = self.codec.decode(b.target_latents[tex][:, :, picks])
            pred_img, ref_img = (x.transpose(1, 2).flatten(0, 1) for x in (decoded, reference))
            texture = laplacian_l1(pred_img, ref_img, cfg.texture_levels).mean()
            total = total + cfg.texture_weight * texture * tex.sum() / batch
            logs["texture"] = float(texture.detach())
        return total, logs

    @staticmethod
    def _clean_estimate(b: PhaseBatch, chosen: torch.Tensor, frames) -> torch.Tensor:
        """x0 = x_t - sigma * v of the chosen samples at latent frames `frames`; clean motion
        frames (no loss, meaningless prediction) take the true target latents."""
        index = list(frames)
        x0 = predict_x0(b.x_t[chosen][:, :, index], b.pred_v[chosen][:, :, index],
                        b.sigma[chosen])
        keep = b.frame_valid[chosen][:, index][:, None, :, None, None] > 0
        return torch.where(keep, x0, b.target_latents[chosen][:, :, index])


# ---------------------------------------------------------------------------------------------
# Choosing the boundaries by measurement
# ---------------------------------------------------------------------------------------------

CondVelocity = Callable[[torch.Tensor, torch.Tensor, object], torch.Tensor]


@torch.no_grad()
def audio_attribution_profile(velocity: CondVelocity, x0: torch.Tensor, cond: object,
                              cond_no_audio: object, region: torch.Tensor,
                              sigmas: list[float], gen: torch.Generator) -> np.ndarray:
    """RMS of `v(cond) - v(cond without audio)` inside `region` per sigma: `[N]`.

    velocity(x_t, sigma [B], cond) -> v; x0: clean latents [B, C, F, h, w]; region:
    [B, F, h, w] in [0, 1]. The same noise is used at every sigma.
    """
    noise = torch.randn(x0.shape, generator=gen).to(x0)
    weight = region.to(x0)[:, None].expand_as(x0)

    def attribution(sigma: float) -> float:
        x_t = noisy_input(x0, noise, sigma)
        s = torch.full((x0.shape[0],), sigma, dtype=x0.dtype, device=x0.device)
        diff = velocity(x_t, s, cond) - velocity(x_t, s, cond_no_audio)
        return float((diff.square() * weight).sum() / weight.sum().clamp_min(1e-6)) ** 0.5

    return per_sigma_profile(attribution, sigmas)


def lip_band(sigmas: list[float], profile: np.ndarray, fraction: float = 0.5,
             margin: float = 0.05) -> tuple[float, float]:
    """`(lip_texture_sigma, structure_lip_sigma)` from an attribution profile, clamped so that
    every phase keeps at least `margin` of the sigma axis."""
    lo, hi = active_range(sigmas, profile, fraction)
    lo = min(max(lo, margin), 1.0 - 2 * margin)
    hi = min(max(hi, lo + margin), 1.0 - margin)
    return float(lo), float(hi)
