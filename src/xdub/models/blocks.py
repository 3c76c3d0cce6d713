"""Building blocks of the dubbing DiT: q/k-normed attention, the DiT block, the output head.

Attribute names (`self_attn.q`, `norm_q`, `modulation`, `ffn.0`, `audio_attn`, `head.head`, ...)
are an interface: they spell the state-dict keys of the official X-Dub checkpoint, so they must
not be renamed. Attention runs through `torch.nn.functional.scaled_dot_product_attention`.
Imports: torch, einops, xdub.models.rope.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from xdub.models.rope import apply_rope

Rope = tuple[torch.Tensor, torch.Tensor]  # (cos, sin), each [L, head_dim // 2]
KeyValues = tuple[torch.Tensor, torch.Tensor]  # projected keys, values [B|1, M, heads, hd]


def timestep_sinusoid(timesteps: torch.Tensor, dim: int) -> torch.Tensor:
    """Wan-style [cos | sin] embedding of `timesteps: [N]` (0..1000 scale): float64 [N, dim]."""
    half = dim // 2
    exponents = torch.arange(half, dtype=torch.float64, device=timesteps.device) / half
    angles = timesteps.to(torch.float64)[:, None] * torch.pow(10000.0, -exponents)[None]
    return torch.cat([angles.cos(), angles.sin()], dim=1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """AdaLN modulation: x * (1 + scale) + shift."""
    return x * (1 + scale) + shift


class RMSNorm(nn.Module):
    """RMS normalisation over the last axis (computed in float32) with a learned gain."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [..., dim] -> same shape and dtype."""
        x32 = x.float()
        normed = x32 * torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return normed.to(x.dtype) * self.weight


class QKNormAttention(nn.Module):
    """Multi-head attention with RMS-normed queries/keys; self-attention with RoPE or cross."""

    def __init__(self, dim: int, num_heads: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)
        # Wan normalises across all heads at once (width dim), not per head.
        self.norm_q = RMSNorm(dim, eps=eps)
        self.norm_k = RMSNorm(dim, eps=eps)

    def memory_kv(self, memory: torch.Tensor) -> KeyValues:
        """Keys and values `[B|1, M, heads, head_dim]` of `memory: [B|1, M, D]`. A constant
        memory (the empty-prompt context) can be projected once and passed as `memory_kv`."""
        heads = self.num_heads
        k = rearrange(self.norm_k(self.k(memory)), "b l (n d) -> b l n d", n=heads)
        v = rearrange(self.v(memory), "b l (n d) -> b l n d", n=heads)
        return k, v

    def forward(
        self, x: torch.Tensor, memory: torch.Tensor | None = None, rope: Rope | None = None,
        memory_kv: KeyValues | None = None,
    ) -> torch.Tensor:
        """x: [B, L, D] queries; memory: [B or 1, M, D] keys/values (None = x), or their
        projection `memory_kv` -> [B, L, D]."""
        q = rearrange(self.norm_q(self.q(x)), "b l (n d) -> b l n d", n=self.num_heads)
        if memory_kv is None:
            memory_kv = self.memory_kv(x if memory is None else memory)
        k, v = memory_kv
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        if k.shape[0] != q.shape[0]:  # a shared (batch-1) context serves the whole batch
            k, v = k.expand(q.shape[0], -1, -1, -1), v.expand(q.shape[0], -1, -1, -1)
        q, k, v = (rearrange(t, "b l n d -> b n l d") for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v)
        return self.o(rearrange(out, "b n l d -> b l (n d)"))


class DiTBlock(nn.Module):
    """Wan block: modulated self-attn over all tokens, text + audio cross-attn on target tokens,
    modulated MLP over all tokens. Six modulation vectors per token (per-token timesteps)."""

    def __init__(
        self, dim: int, num_heads: int, ffn_dim: int, eps: float, text: bool, audio: bool
    ) -> None:
        super().__init__()
        self.self_attn = QKNormAttention(dim, num_heads, eps)
        self.norm1 = nn.LayerNorm(dim, eps=eps, elementwise_affine=False)
        self.norm2 = nn.LayerNorm(dim, eps=eps, elementwise_affine=False)
        self.cross_attn = QKNormAttention(dim, num_heads, eps) if text else None
        self.norm3 = nn.LayerNorm(dim, eps=eps) if text else None
        self.ffn = nn.Sequential(
            nn.Linear(dim, ffn_dim), nn.GELU(approximate="tanh"), nn.Linear(ffn_dim, dim)
        )
        self.modulation = nn.Parameter(torch.randn(1, 6, dim) / dim**0.5)
        self.norm4 = nn.LayerNorm(dim, eps=eps) if audio else None
        self.audio_attn = QKNormAttention(dim, num_heads, eps) if audio else None

    def forward(
        self,
        tokens: torch.Tensor,
        t_mod: torch.Tensor,
        rope: Rope,
        num_cond_tokens: int,
        context: torch.Tensor | KeyValues | None,
        audio: torch.Tensor | None,
    ) -> torch.Tensor:
        """tokens: [B, L, D] = [cond | target]; t_mod: [B, L, 6, D]; context: [B|1, M, D] or
        this block's cached cross-attention keys/values (`QKNormAttention.memory_kv`);
        audio: [B, F, P, D] (one window per target latent frame). Returns [B, L, D]."""
        mod = self.modulation.to(t_mod.dtype) + t_mod
        shift_sa, scale_sa, gate_sa, shift_ff, scale_ff, gate_ff = mod.unbind(dim=2)
        attn_in = modulate(self.norm1(tokens), shift_sa, scale_sa)
        tokens = tokens + gate_sa * self.self_attn(attn_in, rope=rope)
        # Conditioning tokens are context only: text and audio reach the target tokens alone.
        cond, target = tokens[:, :num_cond_tokens], tokens[:, num_cond_tokens:]
        if self.cross_attn is not None and self.norm3 is not None and context is not None:
            if isinstance(context, tuple):
                target = target + self.cross_attn(self.norm3(target), memory_kv=context)
            else:
                target = target + self.cross_attn(self.norm3(target), memory=context)
        if self.audio_attn is not None and self.norm4 is not None and audio is not None:
            target = target + self._attend_audio(target, audio)
        tokens = torch.cat([cond, target], dim=1)
        ffn_in = modulate(self.norm2(tokens), shift_ff, scale_ff)
        return tokens + gate_ff * self.ffn(ffn_in)

    def _attend_audio(self, target: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Each latent frame's tokens attend only to that frame's audio window."""
        assert self.audio_attn is not None and self.norm4 is not None
        frames = audio.shape[1]
        assert target.shape[1] % frames == 0, "audio frames must equal target latent frames"
        per_frame = rearrange(target, "b (f s) d -> (b f) s d", f=frames)
        windows = rearrange(audio, "b f p d -> (b f) p d")
        out = self.audio_attn(self.norm4(per_frame), memory=windows)
        return rearrange(out, "(b f) s d -> b (f s) d", f=frames)


class OutputHead(nn.Module):
    """Final norm + 2-way (shift, scale) modulation from the time embedding + linear unpatch."""

    def __init__(self, dim: int, out_channels: int, patch_size: tuple[int, int, int], eps: float):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=eps, elementwise_affine=False)
        self.head = nn.Linear(dim, out_channels * math.prod(patch_size))
        self.modulation = nn.Parameter(torch.randn(1, 2, dim) / dim**0.5)

    def forward(self, tokens: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        """tokens, t_emb: [B, L, D] -> [B, L, out_channels * prod(patch)]."""
        mod = self.modulation.to(t_emb.dtype)[None] + t_emb[:, :, None]
        shift, scale = mod.unbind(dim=2)
        return self.head(modulate(self.norm(tokens), shift, scale))
