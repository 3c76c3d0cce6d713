"""Types every layer may name: the DiT's conditioning and the video-codec interface.

They live here, below `models`, so `conditioning`, `generation`, `data` and `train` can type
their arguments without importing the networks (`xdub.models` re-exports both).

`VideoCodec`: `encode(frames [B, 3, F, H, W] in [-1, 1]) -> latents [B, C, F', H / s, W / s]`
(normalised, deterministic: the posterior mean, never a sample) and `decode(latents) -> frames`
(clamped to [-1, 1]). The frame rule is causal-Wan style: the first frame is encoded alone,
then groups of `temporal_factor`, so `F' = 1 + (F - 1) / temporal_factor` and F must be
`1 + k * factor` (any F when the factor is 1). Imports: torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, fields

import torch
from torch import nn


@dataclass
class DiTConditioning:
    """Everything the DiT conditions on besides the noisy latents and the timestep.

    Shapes (B = batch, F/H/W = latent frames/height/width of the noisy latents):
      source_latents: [B, C_cond, F, H, W] frame-aligned conditioning clip (required; zeros
        = "no reference", the official guidance null stream).
      ref_latents: [B, C, F_ref, H, W] identity frames or None (not in the official model).
      motion_latents: [B, C, F_motion, H, W] clean latents written over the first F_motion
        target frames (chunk continuity) or None.
      motion_mask: [B] bool, which samples use their motion latents (None = all).
      audio_features: [B, F, P, C_audio] one window of P audio feature vectors per LATENT frame
        (official: P = 8, C_audio = 1280 whisper + 768 wav2vec2; zeros = "no audio"), or None
        to skip audio attention entirely.
      context: [B or 1, L_text, text_dim] text embeddings, or None for the built-in null context.
      source_visibility: [B, 1, F, H, W] share of each source latent pixel not hidden by an
        occluder (1 = seen), or None (all seen). Only a lip prior reads it: what its guess
        starts from, the chunk's mean, leaves hidden pixels out (a hand crossing a few frames
        would otherwise ghost into the rest of the chunk).
    """

    source_latents: torch.Tensor
    ref_latents: torch.Tensor | None = None
    motion_latents: torch.Tensor | None = None
    motion_mask: torch.Tensor | None = None
    audio_features: torch.Tensor | None = None
    context: torch.Tensor | None = None
    source_visibility: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        """Batch size B of the conditioning."""
        return self.source_latents.shape[0]

    @classmethod
    def concat(cls, items: list[DiTConditioning]) -> DiTConditioning:
        """Stack several conditionings along the batch (e.g. guidance streams in one forward)."""
        merged: dict[str, torch.Tensor | None] = {}
        for field in fields(cls):
            values = [getattr(item, field.name) for item in items]
            if field.name == "motion_mask" and any(v is not None for v in values):
                # A missing mask means "every sample uses motion": spell that out per item.
                values = [
                    torch.ones(item.batch_size, dtype=torch.bool, device=item.source_latents.device)
                    if v is None
                    else v
                    for item, v in zip(items, values)
                ]
            present = [v is not None for v in values]
            if any(present) and not all(present):
                raise ValueError(f"DiTConditioning.concat: '{field.name}' is None in some items")
            merged[field.name] = torch.cat(values, dim=0) if all(present) else None
        return cls(**merged)  # type: ignore[arg-type]

    def validate(self, noisy_latents: torch.Tensor) -> None:
        """Assert shapes agree with `noisy_latents: [B, C, F, H, W]` (programming errors)."""
        assert noisy_latents.ndim == 5, f"noisy_latents must be [B,C,F,H,W]: {noisy_latents.shape}"
        b, c, f, h, w = noisy_latents.shape
        src = self.source_latents
        assert src.ndim == 5 and src.shape[0] == b and src.shape[2:] == (f, h, w), (
            f"source_latents {tuple(src.shape)} must be [B, C_cond, F, H, W] = [{b},*,{f},{h},{w}]"
        )
        for name in ("ref_latents", "motion_latents"):
            extra = getattr(self, name)
            if extra is not None:
                ok = extra.ndim == 5 and extra.shape[:2] == (b, c) and extra.shape[3:] == (h, w)
                assert ok, f"{name} {tuple(extra.shape)} must be [{b}, {c}, *, {h}, {w}]"
        if self.motion_latents is not None:
            assert self.motion_latents.shape[2] <= f, "more motion frames than target frames"
        if self.motion_mask is not None:
            assert self.motion_mask.shape == (b,), "motion_mask must be [B]"
        if self.source_visibility is not None:
            shape = tuple(self.source_visibility.shape)
            assert shape == (b, 1, f, h, w), (
                f"source_visibility {shape} must be [{b}, 1, {f}, {h}, {w}]")
        if self.audio_features is not None:
            assert self.audio_features.ndim == 4 and self.audio_features.shape[0] == b, (
                f"audio_features must be [B, F, P, C], got {tuple(self.audio_features.shape)}"
            )



class VideoCodec(nn.Module, ABC):
    """Pixels <-> latents for video clips; subclasses set the three attributes below."""

    latent_channels: int  # C
    temporal_factor: int  # frames per latent frame after the first
    spatial_factor: int  # pixels per latent along H and W

    def latent_frames(self, num_frames: int) -> int:
        """F' for F input frames (raises ValueError if F does not fit the causal rule)."""
        if num_frames < 1 or (num_frames - 1) % self.temporal_factor:
            raise ValueError(
                f"num_frames must be 1 + k * {self.temporal_factor} (k >= 0), got {num_frames}"
            )
        return 1 + (num_frames - 1) // self.temporal_factor

    def pixel_frames(self, latent_frames: int) -> int:
        """F decoded from F' latent frames."""
        return 1 + (latent_frames - 1) * self.temporal_factor

    def check_frames(self, frames: torch.Tensor) -> None:
        """Assert the `[B, 3, F, H, W]` layout and sizes this codec accepts."""
        assert frames.ndim == 5 and frames.shape[1] == 3, (
            f"frames must be [B, 3, F, H, W], got {tuple(frames.shape)}"
        )
        self.latent_frames(frames.shape[2])
        h, w = frames.shape[-2:]
        if h % self.spatial_factor or w % self.spatial_factor:
            raise ValueError(f"H, W must be multiples of {self.spatial_factor}, got {h}x{w}")

    @abstractmethod
    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """frames: [B, 3, F, H, W] in [-1, 1] -> latents: [B, C, F', H/s, W/s]."""

    @abstractmethod
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """latents: [B, C, F', h, w] -> frames: [B, 3, F, h*s, w*s] in [-1, 1]."""
