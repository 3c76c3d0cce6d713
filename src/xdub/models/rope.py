"""3D rotary position embedding (Wan layout): token positions -> per-token rotations.

A token's position is an integer triple (frame, row, column) on the token grid. The head
dimension is split into a frame part and two equal spatial parts (Wan: 44 + 42 + 42 of 128),
and adjacent channel pairs (2i, 2i+1) of each part are rotated by `position * theta**(-2i/d)`.
Positions are explicit tensors rather than a slice of a table, so every input stream can be
placed anywhere (see `xdub.models.layout`). Imports: torch only.
"""

from __future__ import annotations

import torch


def rope_axis_dims(head_dim: int) -> tuple[int, int, int]:
    """Channels of one head given to the (frame, height, width) axes; spatial parts are equal."""
    third = head_dim // 3
    return head_dim - 2 * third, third, third


def grid_positions(
    frames: int,
    height: int,
    width: int,
    offset: tuple[int, int, int] = (0, 0, 0),
    device: torch.device | None = None,
) -> torch.Tensor:
    """Positions of a row-major (frame, row, col) token grid shifted by `offset`: [F*H*W, 3]."""
    axes = [
        torch.arange(size, device=device) + start
        for size, start in zip((frames, height, width), offset)
    ]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)
    return grid.reshape(-1, 3)


def rope_angles(
    positions: torch.Tensor, head_dim: int, theta: float = 10000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cos/sin of the rotation angles for `positions: [L, 3]`; each float32 [L, head_dim // 2]."""
    assert positions.ndim == 2 and positions.shape[1] == 3, "positions must be [L, 3]"
    parts = []
    for axis, axis_dim in enumerate(rope_axis_dims(head_dim)):
        # float64 angles: positions reach ~100 and float32 would lose a few ulps of phase.
        exponents = torch.arange(0, axis_dim, 2, dtype=torch.float64, device=positions.device)
        inv_freq = 1.0 / theta ** (exponents / axis_dim)
        parts.append(positions[:, axis, None].to(torch.float64) * inv_freq[None])
    angles = torch.cat(parts, dim=-1)
    return angles.cos().float(), angles.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs of `x: [B, L, heads, head_dim]` by angles `[L, head_dim // 2]`."""
    pairs = x.float().unflatten(-1, (-1, 2))
    real, imag = pairs[..., 0], pairs[..., 1]
    cos, sin = cos[None, :, None, :], sin[None, :, None, :]
    rotated = torch.stack((real * cos - imag * sin, real * sin + imag * cos), dim=-1)
    return rotated.flatten(-2).to(x.dtype)
