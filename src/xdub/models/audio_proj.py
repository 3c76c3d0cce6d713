"""Audio projection: per-latent-frame windows of speech features -> DiT-width audio tokens.

Input `[B, F, P, C_in]`: for each of the F latent frames, a window of P feature vectors (the
official release: P = 8 vectors at 50 Hz = the 4 video frames at 25 fps that one latent frame
covers, C_in = 1280 whisper-large-v2 + 768 wav2vec2-base channels, concatenated in that
order). Each window is processed on its own: linear in, a few pre-norm residual layers
(window self-attention with an additive sinusoidal position table, then a GEGLU MLP), linear out
to the DiT width. Attribute names (`proj_in`, `layers.N.attn.to_q`, `ff.net.0.proj`,
`pos_embed.pe`, ...) spell the official state-dict keys. Imports: torch, einops.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


class SinusoidalTable(nn.Module):
    """Fixed additive position table `pe: [1, max_len, dim]` (sin on even, cos on odd channels)."""

    def __init__(self, dim: int, max_len: int) -> None:
        super().__init__()
        self.register_buffer("pe", sinusoidal_table(dim, max_len))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [N, P, dim] -> x + pe[:P]."""
        window, table = x.shape[1], self.pe.shape[1]
        assert window <= table, f"audio window {window} longer than the position table {table}"
        return x + self.pe[:, : x.shape[1]].to(x.dtype)


def sinusoidal_table(dim: int, max_len: int) -> torch.Tensor:
    """The Transformer position table, float32 [1, max_len, dim]."""
    position = torch.arange(max_len, dtype=torch.float32)[:, None]
    inv_freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(1, max_len, dim)
    table[0, :, 0::2] = torch.sin(position * inv_freq)
    table[0, :, 1::2] = torch.cos(position * inv_freq)
    return table


class WindowAttention(nn.Module):
    """Plain multi-head self-attention inside one audio window (no q/k norm, no qkv bias)."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(dim, dim, bias=False)
        self.to_v = nn.Linear(dim, dim, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim)])  # list: keeps the `to_out.0` key

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [N, P, dim] -> [N, P, dim]."""
        split = "n p (h d) -> n h p d"
        q = rearrange(self.to_q(x), split, h=self.num_heads)
        k = rearrange(self.to_k(x), split, h=self.num_heads)
        v = rearrange(self.to_v(x), split, h=self.num_heads)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.to_out[0](rearrange(out, "n h p d -> n p (h d)"))


class GatedProjection(nn.Module):
    """Linear to 2x width, then value * gelu(gate) (GEGLU, exact erf GELU)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, hidden * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [..., dim] -> [..., hidden]."""
        value, gate = self.proj(x).chunk(2, dim=-1)
        return value * F.gelu(gate)


class GatedFeedForward(nn.Module):
    """GEGLU MLP with 4x hidden width; `net` = [gated in, (no-op), linear out] for key parity."""

    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        self.net = nn.ModuleList(
            [GatedProjection(dim, dim * mult), nn.Identity(), nn.Linear(dim * mult, dim)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [..., dim] -> [..., dim]."""
        for layer in self.net:
            x = layer(x)
        return x


class AudioProjLayer(nn.Module):
    """Pre-norm residual layer over one window: optional self-attention, then GEGLU MLP."""

    def __init__(self, dim: int, num_heads: int, use_attn: bool, max_window: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim) if use_attn else None
        self.attn = WindowAttention(dim, num_heads) if use_attn else None
        self.norm2 = nn.LayerNorm(dim)
        self.ff = GatedFeedForward(dim)
        self.pos_embed = SinusoidalTable(dim, max_window)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """windows: [N, P, dim] -> [N, P, dim]."""
        if self.attn is not None and self.norm1 is not None:
            # Positions enter the attention input only, not the residual stream.
            windows = windows + self.attn(self.pos_embed(self.norm1(windows)))
        return windows + self.ff(self.norm2(windows))


class AudioProjection(nn.Module):
    """Maps audio feature windows `[B, F, P, in_dim]` to DiT-width tokens `[B, F, P, out_dim]`."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        hidden_dim: int,
        num_layers: int,
        num_heads: int,
        use_attn: bool = True,
        max_window: int = 100,
    ) -> None:
        super().__init__()
        self.proj_in = nn.Linear(in_dim, hidden_dim)
        self.layers = nn.ModuleList(
            [AudioProjLayer(hidden_dim, num_heads, use_attn, max_window) for _ in range(num_layers)]
        )
        self.proj_out = nn.Linear(hidden_dim, out_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features: [B, F, P, in_dim] -> [B, F, P, out_dim]."""
        assert features.ndim == 4, f"audio features must be [B, F, P, C], got {features.shape}"
        frames = features.shape[1]
        windows = rearrange(self.proj_in(features), "b f p c -> (b f) p c")
        for layer in self.layers:
            windows = layer(windows)
        return rearrange(self.proj_out(windows), "(b f) p c -> b f p c", f=frames)
