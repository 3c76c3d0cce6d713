"""Every training loss, as functions of tensors (the scorer terms also take the scorer).

- `region_flow_loss`: flow-matching velocity MSE, weighted inside a region (the mouth) and
  optionally per position (`base_weight`), over valid frames only: stage 1 (constant mouth
  weight, low weight outside the inpainting mask) and stage 2 (mouth weight in the lip phase);
- `reconstruction_losses`: L1 / MSE / image-gradient L1 of the tiny codec;
- `contrastive_loss`: InfoNCE over audio offsets and clips + calibrating BCE of the sync scorer;
- `sync_loss_on_frames` (on `crop_mouth_frames`), `laplacian_l1`: stage 2's lip- and
  texture-phase terms on decoded clean estimates.
Imports: torch, xdub.config, xdub.models.syncnet.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from xdub.config.sync import SyncScorerConfig
from xdub.models.syncnet import SyncScorer

# ---------------------------------------------------------------------------------------------
# Flow matching (stage 1 and stage 2)
# ---------------------------------------------------------------------------------------------


def region_flow_loss(
    pred_v: torch.Tensor,
    target_v: torch.Tensor,
    region: torch.Tensor,
    region_weight: torch.Tensor | float,
    frame_valid: torch.Tensor | None = None,
    base_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-sample `[B]` weighted velocity MSE.

    pred_v, target_v: [B, C, F, h, w]; region: [B, F, h, w] in [0, 1] (e.g. the mouth mask at
    latent resolution), whose squared error counts `region_weight` (float, or [B] e.g. only for
    lip-phase samples) times more; base_weight: [B, F, h, w] per-position weight before that
    (None = 1; e.g. low outside an inpainting mask, where the answer is given); frame_valid:
    [B, F] in {0, 1} (None = all; clean motion frames carry no loss). Each sample is normalised
    by its valid element count, so a sample with motion frames is not down-weighted.
    """
    assert pred_v.shape == target_v.shape and pred_v.ndim == 5, "velocities must be [B,C,F,h,w]"
    batch, _, frames = pred_v.shape[:3]
    assert region.shape == (batch, frames, *pred_v.shape[3:]), (
        f"region {tuple(region.shape)} must be [B, F, h, w] of {tuple(pred_v.shape)}"
    )
    # float32 at least: bf16 squared errors lose the small late-phase residuals.
    sq_err = (pred_v.float() - target_v.float()).square()  # [B, C, F, h, w]
    valid = _valid_frames(frame_valid, pred_v).to(sq_err)[:, None, :, None, None]
    extra = torch.as_tensor(region_weight, dtype=sq_err.dtype, device=sq_err.device) - 1.0
    extra = extra.view(-1, 1, 1, 1, 1) if extra.ndim == 1 else extra
    weight = (1.0 + extra * region.to(sq_err)[:, None]) * valid
    if base_weight is not None:
        weight = weight * base_weight.to(sq_err)[:, None]
    count = valid.expand_as(sq_err).flatten(1).sum(1).clamp_min(1.0)
    return (sq_err * weight).flatten(1).sum(1) / count


@torch.no_grad()
def flow_error_logs(pred_v: torch.Tensor, target_v: torch.Tensor, region: torch.Tensor,
                    frame_valid: torch.Tensor | None = None) -> dict[str, float]:
    """Unweighted velocity MSE over valid frames, overall ("mse") and inside the region
    ("mouth_mse"): what the weighted loss hides."""
    sq_err = (pred_v.float() - target_v.float()).square()
    valid = _valid_frames(frame_valid, pred_v).to(sq_err)[:, None, :, None, None]
    inside = region.to(sq_err)[:, None] * valid
    mse = float((sq_err * valid).sum() / valid.expand_as(sq_err).sum().clamp_min(1.0))
    mouth = float((sq_err * inside).sum() / inside.expand_as(sq_err).sum().clamp_min(1e-6))
    return {"mse": mse, "mouth_mse": mouth}


def _valid_frames(frame_valid: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    """`[B, F]` frame validity; None = every frame of `like` ([B, C, F, h, w])."""
    if frame_valid is not None:
        return frame_valid
    return torch.ones(like.shape[0], like.shape[2], device=like.device)


# ---------------------------------------------------------------------------------------------
# Tiny codec
# ---------------------------------------------------------------------------------------------


def reconstruction_losses(recon: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """L1, MSE and image-gradient L1 between `[N, 3, H, W]` images."""
    def grads(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x[..., 1:, :] - x[..., :-1, :], x[..., :, 1:] - x[..., :, :-1]

    (ry, rx), (ty, tx) = grads(recon), grads(target)
    return {
        "l1": (recon - target).abs().mean(),
        "mse": F.mse_loss(recon, target),
        "grad": (ry - ty).abs().mean() + (rx - tx).abs().mean(),
    }


# ---------------------------------------------------------------------------------------------
# Sync scorer
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
# Stage 2 phase terms on decoded frames
# ---------------------------------------------------------------------------------------------


def crop_mouth_frames(frames: torch.Tensor, box: tuple[float, ...],
                      scorer: SyncScorerConfig) -> torch.Tensor:
    """Differentiable scorer crops: `frames: [N, 3, S, S]` in [-1, 1] -> `[N, C, h, w]`."""
    n, _, size, _ = frames.shape
    cx, cy, w, h = box
    # affine_grid works in [-1, 1] coordinates (align_corners=False: pixel edges at +-1).
    theta = torch.tensor([[w / size, 0.0, 2 * cx / size - 1], [0.0, h / size, 2 * cy / size - 1]],
                         dtype=frames.dtype, device=frames.device).expand(n, 2, 3)
    grid = F.affine_grid(theta, [n, 3, scorer.crop_height, scorer.crop_width], align_corners=False)
    crops = F.grid_sample(frames, grid, mode="bilinear", padding_mode="border",
                          align_corners=False)
    if scorer.channels == 1:  # ITU-R 601 luma, as cv2.COLOR_RGB2GRAY
        weights = torch.tensor([0.299, 0.587, 0.114], dtype=crops.dtype, device=crops.device)
        crops = (crops * weights.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    return crops


def sync_loss_on_frames(scorer: SyncScorer, frames: torch.Tensor, mel_windows: torch.Tensor,
                        box: tuple[float, ...]) -> torch.Tensor:
    """Scorer loss -log P(sync) of decoded crops against their audio.

    frames: [B, 3, F, S, S] in [-1, 1]; mel_windows: [B, F - W + 1, L, n_mels], window i
    belonging to video frames i .. i + W - 1 (W = scorer window).
    """
    cfg = scorer.cfg
    batch, _, num, size, _ = frames.shape
    per_frame = crop_mouth_frames(frames.transpose(1, 2).reshape(-1, 3, size, size), box, cfg)
    per_frame = per_frame.view(batch, num, *per_frame.shape[1:])  # [B, F, C, h, w]
    windows = num - cfg.window_frames + 1
    assert mel_windows.shape[:2] == (batch, windows), (
        f"mel_windows {tuple(mel_windows.shape)} must be [B={batch}, {windows}, L, n_mels]")
    video = torch.stack([per_frame[:, i:i + cfg.window_frames].flatten(1, 2)
                         for i in range(windows)], dim=1)  # [B, N, W*C, h, w]
    return scorer.sync_loss(video.flatten(0, 1), mel_windows.flatten(0, 1).to(video))


def laplacian_l1(pred: torch.Tensor, target: torch.Tensor, levels: int) -> torch.Tensor:
    """Mean L1 between the band-pass levels of two image batches `[N, 3, H, W]` (per sample
    `[N]`); the low-pass residual is left out: the flow loss already covers it."""
    per_sample = torch.zeros(pred.shape[0], dtype=pred.dtype, device=pred.device)
    for _ in range(levels):
        if min(pred.shape[-2:]) < 2:
            break
        low_p, low_t = F.avg_pool2d(pred, 2), F.avg_pool2d(target, 2)
        band_p = pred - F.interpolate(low_p, size=pred.shape[-2:], mode="bilinear",
                                      align_corners=False)
        band_t = target - F.interpolate(low_t, size=target.shape[-2:], mode="bilinear",
                                        align_corners=False)
        per_sample = per_sample + (band_p - band_t).abs().flatten(1).mean(dim=1)
        pred, target = low_p, low_t
    return per_sample
