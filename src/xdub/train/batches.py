"""Typed micro-batches: what each trainer's step function receives from its data stream.

    codec    `[N, 3, S, S]` float image tensor (one crop per row; no wrapper needed)
    scorer   `SyncBatch`     (`xdub.train.syncnet.window_batches`)
    stage 1  `InpaintBatch`  (collated windows of single clips, `xdub.data.crops.cut_window`)
    stage 2  `EditBatch`     (collated pseudo-pair windows, `xdub.train.pair_windows`)
With per-frame codecs the data stream may carry latents encoded once per clip; a batch then
has them as well as the crops (same result as encoding in the step, less compute).
Imports: torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class SyncBatch:
    """One micro-batch of the sync scorer (layout of `WindowPool.sample`)."""

    video: torch.Tensor  # [B, R, W*C, h, w] in [-1, 1]: R anchor windows per clip
    audio: torch.Tensor  # [B, R + 2K, L, n_mels]: audio windows at offsets -K..K of each anchor


@dataclass(frozen=True)
class InpaintBatch:
    """One stage-1 micro-batch: target windows with their masks, references and audio."""

    crops: torch.Tensor  # [B, F, S, S, 3] uint8 target window (also the masked source)
    mask: torch.Tensor  # [B, F, S, S] inpainting (lower-face) mask in [0, 1]
    mouth_mask: torch.Tensor  # [B, F, S, S] mouth region: the loss weight's region
    ref_crops: torch.Tensor  # [B, R, S, S, 3] uint8 identity references
    audio: torch.Tensor  # [B, F, W, D] audio feature windows, one per video frame
    target_latents: torch.Tensor | None = None  # cached: [B, C, F', h, w]
    source_latents: torch.Tensor | None = None  # cached: [B, C + tf, F', h, w]
    ref_latents: torch.Tensor | None = None  # cached: [B, C, R', h, w]

    @classmethod
    def from_collated(cls, batch: dict[str, Any]) -> InpaintBatch:
        """From `collate_windows` of `cut_window` samples (ids and indices are dropped)."""
        return cls(batch["crops"], batch["mask"], batch["mouth_mask"], batch["ref_crops"],
                   batch["audio"], batch.get("target_latents"), batch.get("source_latents"),
                   batch.get("ref_latents"))


@dataclass(frozen=True)
class EditBatch:
    """One stage-2 micro-batch: source windows V', targets V, references from V', audio A."""

    input_crops: torch.Tensor  # [B, F, S, S, 3] uint8 V' (lips follow the donor audio)
    target_crops: torch.Tensor  # [B, F, S, S, 3] uint8 V (the real clip)
    ref_crops: torch.Tensor  # [B, R, S, S, 3] uint8 references from V'
    region: torch.Tensor  # [B, F, S, S] uint8 mouth region (255 = inside)
    audio: torch.Tensor  # [B, F, W, D] audio feature windows of A, one per video frame
    mel_windows: torch.Tensor | None = None  # [B, F - W + 1, L, n_mels] scorer windows of A
    input_latents: torch.Tensor | None = None  # cached: [B, C, F', h, w]
    target_latents: torch.Tensor | None = None  # cached: [B, C, F', h, w]
    ref_latents: torch.Tensor | None = None  # cached: [B, C, R', h, w]

    @classmethod
    def from_collated(cls, batch: dict[str, Any]) -> EditBatch:
        """From `collate_windows` of `PairWindows.sample` samples (ids are dropped)."""
        return cls(batch["input_crops"], batch["target_crops"], batch["ref_crops"],
                   batch["region"], batch["audio"], batch.get("mel_windows"),
                   batch.get("input_latents"), batch.get("target_latents"),
                   batch.get("ref_latents"))
