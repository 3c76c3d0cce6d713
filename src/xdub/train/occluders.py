"""Training recipe of the occluder segmenter (`xdub.models.occluder_net.OccluderNet`).

Data: engine clips (`OccluderTrainConfig.scenarios`: the occlusion scenario, whose hands,
microphones and objects cross or rest on the mouth, and the mixed pool as frames with nothing
in front of the face) cropped exactly as dubbing crops them (`xdub.conditioning`'s alignment
from landmarks, the dubber's `AlignConfig`), with the engine's occluder masks warped into the
crops (`occluders_in_crops`, the pair generator's). The clips are rendered once into memory;
every sample is jittered (shift, zoom, rotation: tracking on real footage is not exact;
brightness / contrast), the same warp for crop and mask. A batch holds `occluded_share` frames
with an occluder in view.
Objective: per-pixel BCE + soft Dice on the logits. At the end the held-out clips
(`val_clips` per scenario, seeds never trained on) are scored: IoU on occluded frames, and the
share of pixels called covered in frames with nothing in front of the face (false alarms: each
one freezes part of the dubbed mouth). Run dir: the loop's + final/ (config.json,
model.safetensors, metrics.json).
Imports: numpy, cv2, torch, tqdm, xdub.{config, conditioning, data, face, models, train}.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from xdub.conditioning import crop_frames
from xdub.config.occluders import OccluderTrainConfig
from xdub.face.align import estimate_alignments
from xdub.models.occluder_net import OccluderNet
from xdub.train.frame_recipes import clip_jobs, iter_records, train_to_final
from xdub.train.pairgen import occluders_in_crops
from xdub.train.report import Panel

log = logging.getLogger(__name__)

COVERED = 0.5  # mask value counted as covered (anti-aliased edges are fractional)
LOSS_PANELS = (Panel(("loss", "bce", "dice"), log_y=True),)


@dataclass(frozen=True)
class OccluderFrames:
    """Aligned crops `[N, S, S, 3]` uint8, their occluder masks `[N, S, S]` float32 in [0, 1]
    and whether each frame shows an occluder (`[N]` bool)."""

    crops: np.ndarray
    masks: np.ndarray
    occluded: np.ndarray


def render_frames(cfg: OccluderTrainConfig, held_out: bool = False) -> OccluderFrames:
    """Every frame of the training (or held-out) clips of every scenario, cropped for dubbing."""
    jobs = clip_jobs(cfg, held_out)
    crops, masks = [], []
    size = cfg.align.crop_size
    for record in tqdm(iter_records(jobs), total=len(jobs), unit="clip", mininterval=5.0,
                       desc="occluder clips" + (" (held out)" if held_out else "")):
        affines = estimate_alignments(record.landmarks, size, cfg.align, record.fps)
        crops.append(crop_frames(record.frames, affines, size, cfg.align.interpolation))
        covered = (np.zeros(record.frames.shape[:3], bool) if record.occluders is None
                   else record.occluders)
        masks.append(occluders_in_crops(covered, affines, size).astype(np.float32))
    all_masks = np.concatenate(masks)
    return OccluderFrames(np.concatenate(crops), all_masks,
                          (all_masks > COVERED).any(axis=(1, 2)))


def jitter(crop: np.ndarray, mask: np.ndarray, cfg: OccluderTrainConfig,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One random similarity warp applied to crop and mask alike, then a gain / contrast change
    of the crop (float32 `[S, S, 3]` in [0, 255], `[S, S]`)."""
    size = crop.shape[0]
    angle = rng.uniform(-cfg.jitter_degrees, cfg.jitter_degrees)
    scale = 1.0 + rng.uniform(-cfg.jitter_scale, cfg.jitter_scale)
    warp = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    warp[:, 2] += rng.uniform(-cfg.jitter_px, cfg.jitter_px, 2)
    out_crop = cv2.warpAffine(crop.astype(np.float32), warp, (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)
    out_mask = cv2.warpAffine(mask, warp, (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)
    gain, contrast = 1.0 + rng.uniform(-1, 1, 2) * cfg.jitter_gain
    mean = out_crop.mean()
    out_crop = np.clip((out_crop - mean) * contrast + mean * gain, 0.0, 255.0)
    return out_crop, np.clip(out_mask, 0.0, 1.0)


def batches(cfg: OccluderTrainConfig, frames: OccluderFrames, consumed: int):
    """Endless (x `[B, 3, S, S]` in [-1, 1], mask `[B, 1, S, S]`) batches from micro-batch
    `consumed` on; batch i depends on i only (a resumed run continues the same stream)."""
    occluded, clear = np.flatnonzero(frames.occluded), np.flatnonzero(~frames.occluded)
    index = consumed
    while True:
        rng = np.random.default_rng([cfg.loop.seed, index])
        picks = []
        for _ in range(cfg.loop.batch_size):
            pool = occluded if len(occluded) and (rng.random() < cfg.occluded_share
                                                  or not len(clear)) else clear
            picks.append(int(pool[rng.integers(len(pool))]))
        pairs = [jitter(frames.crops[i], frames.masks[i], cfg, rng) for i in picks]
        x = torch.from_numpy(np.stack([p[0] for p in pairs]).astype(np.float32))
        x = x.permute(0, 3, 1, 2) / 127.5 - 1.0
        yield x, torch.from_numpy(np.stack([p[1] for p in pairs]).astype(np.float32))[:, None]
        index += 1


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor,
                      dice_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Per-pixel BCE + `dice_weight` x soft Dice over the batch (masks cover little area, so BCE
    alone is content with calling nothing covered)."""
    bce = F.binary_cross_entropy_with_logits(logits, target)
    prob = torch.sigmoid(logits)
    dice = 1.0 - (2.0 * (prob * target).sum() + 1.0) / (prob.sum() + target.sum() + 1.0)
    return bce + dice_weight * dice, {"bce": float(bce.detach()), "dice": float(dice.detach())}


def score(net: OccluderNet, frames: OccluderFrames) -> dict[str, float]:
    """Held-out figures: IoU of the covered pixels on occluded frames (at 0.5), pixel recall
    and precision there, and the false-alarm share of pixels on frames with no occluder."""
    probs = net.probabilities(frames.crops)
    called, truth = probs > 0.5, frames.masks > COVERED
    occ = frames.occluded
    inter = float((called[occ] & truth[occ]).sum())
    union = float((called[occ] | truth[occ]).sum())
    return {
        "frames": len(probs), "occluded_frames": int(occ.sum()),
        "iou": inter / max(union, 1.0),
        "recall": inter / max(float(truth[occ].sum()), 1.0),
        "precision": inter / max(float(called[occ].sum()), 1.0),
        "false_alarm": float(called[~occ].mean()) if (~occ).any() else 0.0,
    }


def train_occluder_net(cfg: OccluderTrainConfig, run_dir: str | Path) -> OccluderNet:
    """Train (or resume from `run_dir/checkpoints`), write `run_dir/final/` with the EMA weights
    and the held-out figures, and return the net in eval mode."""
    run_dir = Path(run_dir)
    frames = render_frames(cfg)
    log.info("occluder pool: %d frames, %d with an occluder", len(frames.crops),
             int(frames.occluded.sum()))
    torch.manual_seed(cfg.loop.seed)
    net = OccluderNet(cfg.model).train()

    def step(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]):
        x, target = batch
        return segmentation_loss(model(x), target, cfg.dice_weight)

    held_out = (lambda trained: score(trained, render_frames(cfg, held_out=True))
                if cfg.val_clips else None)
    return train_to_final(cfg.loop, run_dir, net, step, partial(batches, cfg, frames), cfg,
                          "xdub occluder net", LOSS_PANELS, held_out)
