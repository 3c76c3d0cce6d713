"""Typed DiT inputs and the in-context token layout (stream order, positions, timesteps).

The DiT sees ONE token sequence made of up to three streams, all patchified on the same grid:

    [ source (F frames) | identity refs (F_ref frames, optional) | target (F frames) ]

* source: the frame-aligned conditioning video (the official model's "ref_latents": the full
  source clip for the mask-free editor; masked clip + mask channels for an inpainter).
  RoPE positions (f, h + H, w + W): same frames as the target, shifted diagonally by one grid in
  space, exactly as the official X-Dub model.
* identity refs (ours, absent in the official model): extra clean frames of the speaker,
  placed after the clip in time, (F + k, h, w), with the target's spatial positions.
* target: the noisy latents, positions (f, h, w). Motion frames (the last latents of the previous
  chunk) overwrite the first target frames and, like every conditioning token, are marked clean.

Per-token timesteps ("separated timesteps"): every source/identity/motion token gets t = 0, the
rest of the target gets the sample's t. Imports: torch only.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from xdub.models.rope import grid_positions


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
    """

    source_latents: torch.Tensor
    ref_latents: torch.Tensor | None = None
    motion_latents: torch.Tensor | None = None
    motion_mask: torch.Tensor | None = None
    audio_features: torch.Tensor | None = None
    context: torch.Tensor | None = None

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
        if self.audio_features is not None:
            assert self.audio_features.ndim == 4 and self.audio_features.shape[0] == b, (
                f"audio_features must be [B, F, P, C], got {tuple(self.audio_features.shape)}"
            )


@dataclass(frozen=True)
class TokenGrid:
    """Token-grid size of one clip after patchifying: frames x rows x cols."""

    frames: int
    height: int
    width: int

    @property
    def tokens_per_frame(self) -> int:
        """Tokens in one latent frame."""
        return self.height * self.width

    @property
    def num_tokens(self) -> int:
        """Tokens in the whole clip."""
        return self.frames * self.height * self.width


def stream_positions(
    grid: TokenGrid, ref_frames: int = 0, device: torch.device | None = None
) -> torch.Tensor:
    """RoPE positions of the full sequence [source | refs | target]: [L, 3] (frame, row, col)."""
    f, h, w = grid.frames, grid.height, grid.width
    parts = [grid_positions(f, h, w, offset=(0, h, w), device=device)]
    if ref_frames:
        parts.append(grid_positions(ref_frames, h, w, offset=(f, 0, 0), device=device))
    parts.append(grid_positions(f, h, w, device=device))
    return torch.cat(parts, dim=0)


def token_timesteps(
    timestep: torch.Tensor,
    grid: TokenGrid,
    num_cond_tokens: int,
    motion_frames: int = 0,
    motion_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-token timesteps [B, L]: 0 on conditioning and motion tokens, `timestep: [B]` else."""
    batch = timestep.shape[0]
    target = timestep[:, None, None].expand(batch, grid.frames, grid.tokens_per_frame).clone()
    if motion_frames:
        use = torch.ones(batch, dtype=torch.bool, device=timestep.device)
        if motion_mask is not None:
            use = motion_mask.to(device=timestep.device, dtype=torch.bool)
        target[use, :motion_frames] = 0
    cond = timestep.new_zeros(batch, num_cond_tokens)
    return torch.cat([cond, target.flatten(1)], dim=1)
