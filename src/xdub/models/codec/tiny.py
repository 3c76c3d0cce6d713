"""Tiny-scale codec: a per-frame 2D conv autoencoder for small face crops (ours).

Temporal factor 1 (every frame has its own latent frame, so F' = F and any F is valid);
spatial factor `patch_size * 2 ** (levels - 1)` (default 4: 64x64 crop -> 16 x 16 x 16).
Encoder and decoder are each a linear shortcut (s x s pixel-unshuffle + 1x1 conv, initialised
as a whitened PCA of patches) plus a conv stack that learns the residual; a 2x2 pixel-unshuffle
lets every conv run at half resolution (both ideas from the Wan2.2 VAE). Encoding is
deterministic; training adds `latent_noise` to the latents so the decoder tolerates imperfect
latents. Latents are normalised with per-channel stats measured after training (stored in the
config). Imports: torch, einops, xdub.config, xdub.errors, xdub.models.codec.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch
from einops import rearrange
from torch import nn

from xdub.config.codec import TinyCodecConfig
from xdub.models import checkpoint
from xdub.models.codec.base import VideoCodec


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(8 if channels % 8 == 0 else 1, channels)


class ResBlock(nn.Module):
    """Pre-norm residual block: x + conv(silu(norm(conv(silu(norm(x))))))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _norm(channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            _norm(channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [N, C, H, W] -> same."""
        return x + self.body(x)


class TinyEncoder(nn.Module):
    """images [N, 3, H, W] -> raw latents [N, C, H/s, W/s]: conv stack + linear shortcut.

    The shortcut (pixel-unshuffle by s, then a 1x1 conv) is the residual-shortcut idea of the
    Wan2.2 VAE: on its own it is a learned PCA of s x s patches (~33 dB on face crops at 16
    channels), so the conv stack only learns what a linear code misses and training is fast.
    """

    def __init__(self, cfg: TinyCodecConfig) -> None:
        super().__init__()
        widths, p, s = cfg.widths, cfg.patch_size, cfg.spatial_factor
        layers: list[nn.Module] = [
            nn.PixelUnshuffle(p),
            nn.Conv2d(3 * p * p, widths[0], 3, padding=1),
        ]
        for level, width in enumerate(widths):
            layers += [ResBlock(width) for _ in range(cfg.res_blocks)]
            if level + 1 < len(widths):
                layers.append(nn.Conv2d(width, widths[level + 1], 3, stride=2, padding=1))
        layers += [
            _norm(widths[-1]),
            nn.SiLU(),
            nn.Conv2d(widths[-1], cfg.latent_channels, 3, padding=1),
        ]
        self.body = nn.Sequential(*layers)
        self.shortcut = nn.Sequential(
            nn.PixelUnshuffle(s), nn.Conv2d(3 * s * s, cfg.latent_channels, 1)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: [N, 3, H, W] -> [N, C, H/s, W/s]."""
        return self.body(images) + self.shortcut(images)

    @property
    def shortcut_conv(self) -> nn.Conv2d:
        """The 1x1 conv of the linear shortcut (patches -> latents)."""
        return self.shortcut[1]


class TinyDecoder(nn.Module):
    """raw latents [N, C, h, w] -> images [N, 3, h*s, w*s]: conv stack + linear shortcut."""

    def __init__(self, cfg: TinyCodecConfig) -> None:
        super().__init__()
        widths, p, s = cfg.widths[::-1], cfg.patch_size, cfg.spatial_factor
        layers: list[nn.Module] = [nn.Conv2d(cfg.latent_channels, widths[0], 3, padding=1)]
        for level, width in enumerate(widths):
            layers += [ResBlock(width) for _ in range(cfg.res_blocks)]
            if level + 1 < len(widths):
                layers += [
                    nn.Upsample(scale_factor=2.0, mode="nearest"),
                    nn.Conv2d(width, widths[level + 1], 3, padding=1),
                ]
        layers += [_norm(widths[-1]), nn.SiLU(), nn.Conv2d(widths[-1], 3 * p * p, 3, padding=1)]
        self.body = nn.Sequential(*layers, nn.PixelShuffle(p))
        self.shortcut = nn.Sequential(
            nn.Conv2d(cfg.latent_channels, 3 * s * s, 1), nn.PixelShuffle(s)
        )

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """latents: [N, C, h, w] -> [N, 3, h*s, w*s] (not clamped)."""
        return self.body(latents) + self.shortcut(latents)

    @property
    def shortcut_conv(self) -> nn.Conv2d:
        """The 1x1 conv of the linear shortcut (latents -> patches)."""
        return self.shortcut[0]


class TinyVideoCodec(VideoCodec):
    """frames [B, 3, F, H, W] <-> latents [B, C, F, H/s, W/s], one 2D autoencoder per frame."""

    def __init__(self, cfg: TinyCodecConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or TinyCodecConfig()
        self.latent_channels = self.cfg.latent_channels
        self.temporal_factor = 1
        self.spatial_factor = self.cfg.spatial_factor
        self.encoder = TinyEncoder(self.cfg)
        self.decoder = TinyDecoder(self.cfg)
        self.register_buffer("latents_mean", torch.zeros(1, self.latent_channels, 1, 1), False)
        self.register_buffer("latents_std", torch.ones(1, self.latent_channels, 1, 1), False)
        self._load_stats()

    def _load_stats(self) -> None:
        if self.cfg.latents_mean:
            shape = self.latents_mean.shape
            self.latents_mean.copy_(torch.tensor(self.cfg.latents_mean).view(shape))
            self.latents_std.copy_(torch.tensor(self.cfg.latents_std).view(shape))

    def set_latent_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Record per-channel raw-latent stats `[C]` (kept in the config, so saved with it)."""
        self.cfg = dataclasses.replace(
            self.cfg,
            latents_mean=tuple(float(v) for v in mean),
            latents_std=tuple(float(v) for v in std.clamp_min(1e-6)),
        )
        self._load_stats()

    @torch.no_grad()
    def init_from_pca(self, images: torch.Tensor) -> None:
        """Start as a PCA codec: shortcuts = whitened top principal components of s x s patches
        of `images: [N, 3, H, W]`, conv stacks zeroed at their outputs (so they add nothing yet).

        Training then only has to learn what a linear code misses; without this the first few
        hundred CPU steps are spent rediscovering PCA.
        """
        patches = nn.functional.pixel_unshuffle(images, self.spatial_factor)  # [N, 3s^2, h, w]
        rows = rearrange(patches, "n d h w -> (n h w) d").double()
        mean = rows.mean(0)
        _, sigma, vt = torch.linalg.svd(rows - mean, full_matrices=False)
        k = min(self.latent_channels, vt.shape[0])
        scale = (sigma[:k] / math.sqrt(len(rows))).clamp_min(1e-4)  # per-component std
        enc = torch.zeros(self.latent_channels, rows.shape[1], dtype=torch.float64)
        enc[:k] = vt[:k] / scale[:, None]  # whitened: every latent channel has unit variance
        dec = torch.zeros(rows.shape[1], self.latent_channels, dtype=torch.float64)
        dec[:, :k] = vt[:k].T * scale[None, :]
        enc_conv, dec_conv = self.encoder.shortcut_conv, self.decoder.shortcut_conv
        enc_conv.weight.copy_(enc[:, :, None, None].float())
        enc_conv.bias.copy_((-enc @ mean).float())
        dec_conv.weight.copy_(dec[:, :, None, None].float())
        dec_conv.bias.copy_(mean.float())
        for body in (self.encoder.body, self.decoder.body):
            last = [m for m in body if isinstance(m, nn.Conv2d)][-1]
            last.weight.zero_()
            last.bias.zero_()

    # ----- per-image halves (training uses these; raw = un-normalised latents) -----
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """images: [N, 3, H, W] in [-1, 1] -> raw latents [N, C, H/s, W/s]."""
        return self.encoder(images)

    def decode_images(self, raw_latents: torch.Tensor) -> torch.Tensor:
        """raw latents: [N, C, h, w] -> images [N, 3, h*s, w*s], not clamped."""
        return self.decoder(raw_latents)

    # ----- VideoCodec -----
    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """frames: [B, 3, F, H, W] in [-1, 1] -> normalised latents [B, C, F, H/s, W/s]."""
        self.check_frames(frames)
        images = rearrange(frames, "b c f h w -> (b f) c h w")
        latents = (self.encode_images(images) - self.latents_mean) / self.latents_std
        return rearrange(latents, "(b f) c h w -> b c f h w", b=frames.shape[0])

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """latents: [B, C, F, h, w] -> frames [B, 3, F, h*s, w*s] in [-1, 1]."""
        assert latents.ndim == 5 and latents.shape[1] == self.latent_channels, (
            f"latents must be [B, {self.latent_channels}, F, h, w], got {tuple(latents.shape)}"
        )
        raw = rearrange(latents, "b c f h w -> (b f) c h w") * self.latents_std + self.latents_mean
        images = self.decode_images(raw).clamp(-1.0, 1.0)
        return rearrange(images, "(b f) c h w -> b c f h w", b=latents.shape[0])

    def encodes_like(self, other: TinyVideoCodec) -> bool:
        """True when `other` has this codec's encoder and latent statistics (a decoder-only
        fine-tune of it): latents of either mean the same, so either decoder reads them."""
        ours, theirs = self.state_dict(), other.state_dict()
        if ours.keys() != theirs.keys():
            return False
        same = all(torch.equal(value, theirs[name]) for name, value in ours.items()
                   if not name.startswith("decoder."))
        return same and torch.equal(self.latents_mean, other.latents_mean) and torch.equal(
            self.latents_std, other.latents_std)  # buffers outside the state dict

    # ----- checkpoints -----
    def save_pretrained(self, folder: str | Path) -> Path:
        """Write `folder/{config.json, model.safetensors}`."""
        return checkpoint.save_folder(folder, self.cfg, self.state_dict())

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> TinyVideoCodec:
        """Rebuild from a folder written by `save_pretrained` (its own config, strict load)."""
        cfg, state = checkpoint.load_folder(folder, TinyCodecConfig, "tiny codec")
        codec = cls(cfg)
        codec.load_state_dict(state, strict=True)
        return codec.eval()
