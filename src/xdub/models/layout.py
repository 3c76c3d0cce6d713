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
rest of the target gets the sample's t. `DiTConditioning` itself lives in `xdub.model_types`
(every layer may name it) and is re-exported here. Imports: torch, xdub.model_types.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from xdub.model_types import DiTConditioning
from xdub.models.rope import grid_positions

__all__ = ["DiTConditioning", "TokenGrid", "stream_positions", "token_timesteps"]


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
