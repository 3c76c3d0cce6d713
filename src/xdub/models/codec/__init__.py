"""xdub.models.codec: video codecs (pixels <-> latents) behind one `VideoCodec` interface.

`TinyVideoCodec` (ours, per-frame, 4x spatial, 16 channels) and `WanVAECodec` (the Wan2.2 VAE of
the X-Dub release, 16x spatial, 4x causal temporal, 48 channels). nn.Modules plus their own
checkpoint folders; no media I/O. Imports: torch, diffusers, xdub.config, xdub.errors.
"""

from __future__ import annotations

from xdub.config.codec import CodecConfig
from xdub.models.codec.base import VideoCodec
from xdub.models.codec.tiny import TinyVideoCodec

__all__ = ["TinyVideoCodec", "VideoCodec", "WanVAECodec", "build_codec"]


def build_codec(cfg: CodecConfig) -> VideoCodec:
    """The codec named by `cfg.kind`: tiny (random init) or Wan2.2 (weights from
    `cfg.wan.weights_path`, WeightsError if missing)."""
    if cfg.kind == "tiny":
        return TinyVideoCodec(cfg.tiny)
    from xdub.models.codec.wan import WanVAECodec

    return WanVAECodec.from_original(cfg.wan)


def __getattr__(name: str):
    # diffusers is slow to import; only the full-scale codec needs it.
    if name == "WanVAECodec":
        from xdub.models.codec.wan import WanVAECodec

        return WanVAECodec
    raise AttributeError(f"module 'xdub.models.codec' has no attribute {name!r}")
