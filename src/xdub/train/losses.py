"""Training losses as pure functions of tensors.

`inpaint_flow_loss`: flow-matching velocity MSE with a mouth-region weight and per-frame
validity (motion frames, given clean, carry no loss). Imports: torch.
"""

from __future__ import annotations

import torch


def inpaint_flow_loss(
    pred_v: torch.Tensor,
    target_v: torch.Tensor,
    region: torch.Tensor,
    region_weight: float,
    frame_valid: torch.Tensor | None = None,
    base_weight: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted velocity MSE and logging parts.

    pred_v, target_v: [B, C, F, h, w]; region: [B, F, h, w] in [0, 1] (e.g. the mouth mask at
    latent resolution), whose squared error counts `region_weight` times more; base_weight:
    [B, F, h, w] per-position weight before that (None = 1; e.g. low outside an inpainting
    mask, where the answer is given); frame_valid: [B, F] in {0, 1} (None = all). Each sample
    is normalised by its valid element count, so a sample with motion frames is not
    down-weighted. Returns (scalar loss, {"mse", "mouth_mse"}).
    """
    assert pred_v.shape == target_v.shape and pred_v.ndim == 5, "velocities must be [B,C,F,h,w]"
    batch, _, frames = pred_v.shape[:3]
    assert region.shape == (batch, frames, *pred_v.shape[3:]), (
        f"region {tuple(region.shape)} must be [B, F, h, w] of {tuple(pred_v.shape)}"
    )
    sq_err = (pred_v.float() - target_v.float()).square()  # [B, C, F, h, w]
    valid = torch.ones(batch, frames, device=pred_v.device) if frame_valid is None else frame_valid
    valid = valid.to(sq_err)[:, None, :, None, None]
    weight = (1.0 + (region_weight - 1.0) * region.to(sq_err)[:, None]) * valid
    if base_weight is not None:
        weight = weight * base_weight.to(sq_err)[:, None]
    count = (valid.expand_as(sq_err)).flatten(1).sum(1).clamp_min(1.0)
    loss = ((sq_err * weight).flatten(1).sum(1) / count).mean()
    with torch.no_grad():
        inside = region.to(sq_err)[:, None] * valid
        mse = float((sq_err * valid).sum() / valid.expand_as(sq_err).sum().clamp_min(1.0))
        mouth = float((sq_err * inside).sum() / (inside.expand_as(sq_err).sum().clamp_min(1e-6)))
    return loss, {"mse": mse, "mouth_mse": mouth}
