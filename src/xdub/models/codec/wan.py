"""Full-scale codec: the Wan2.2 VAE (diffusers `AutoencoderKLWan`) behind `VideoCodec`.

Facts (Wan2.2 TI2V-5B VAE, as used by the X-Dub release): 2x2 pixel-unshuffle to 12 channels,
residual down/up blocks (`is_residual`), encoder width 160, decoder width 256, 48 latent
channels, 16x spatial and 4x causal temporal compression (F' = 1 + (F - 1) / 4), latents
normalised per channel with the release's mean/std; decoding clamps to [-1, 1].

Weights load from the ORIGINAL Wan layout (`Wan2.2_VAE.pth`, or DiffSynth's
`Wan2.2_VAE.safetensors`) through `wan_keys` -- diffusers' `from_single_file` only converts the
flat Wan2.1 layout -- or from a local diffusers folder. Imports: torch, safetensors, diffusers,
xdub.config, xdub.errors, xdub.models.codec.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from diffusers import AutoencoderKLWan
from safetensors.torch import load_file

from xdub.config.codec import WanVAEConfig
from xdub.errors import WeightsError
from xdub.models.codec import wan_keys
from xdub.models.codec.base import VideoCodec

log = logging.getLogger(__name__)

WAN_HINT = (
    "download Wan2.2_VAE.pth from HF Wan-AI/Wan2.2-TI2V-5B (or Wan2.2_VAE.safetensors from "
    "DiffSynth-Studio/Wan-Series-Converted-Safetensors) and point codec.wan.weights_path at it"
)


def build_autoencoder(cfg: WanVAEConfig) -> AutoencoderKLWan:
    """A randomly initialised `AutoencoderKLWan` with the architecture in `cfg`."""
    pixel_channels = 3 * cfg.patch_size**2
    return AutoencoderKLWan(
        base_dim=cfg.base_dim,
        decoder_base_dim=cfg.decoder_base_dim,
        z_dim=cfg.z_dim,
        dim_mult=list(cfg.dim_mult),
        num_res_blocks=cfg.num_res_blocks,
        attn_scales=[],
        temperal_downsample=list(cfg.temporal_downsample),
        is_residual=True,
        in_channels=pixel_channels,
        out_channels=pixel_channels,
        patch_size=cfg.patch_size,
        scale_factor_temporal=cfg.temporal_factor,
        scale_factor_spatial=cfg.spatial_factor,
        latents_mean=list(cfg.latents_mean),
        latents_std=list(cfg.latents_std),
    )


def read_original_state(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of an original-layout Wan2.2 VAE file (.safetensors or .pth/.pt)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"Wan2.2 VAE weights not found at '{path}': {WAN_HINT}")
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt/truncated files raise several types
        raise WeightsError(f"unreadable Wan2.2 VAE weights '{path}': {err}") from None


class WanVAECodec(VideoCodec):
    """Wan2.2 VAE: frames [B, 3, 1 + 4k, H, W] <-> latents [B, 48, 1 + k, H/16, W/16]."""

    def __init__(self, cfg: WanVAEConfig, vae: AutoencoderKLWan | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.vae = vae if vae is not None else build_autoencoder(cfg)
        self.latent_channels = cfg.z_dim
        self.temporal_factor = cfg.temporal_factor
        self.spatial_factor = cfg.spatial_factor
        shape = (1, cfg.z_dim, 1, 1, 1)
        mean = torch.tensor(cfg.latents_mean, dtype=torch.float32).view(shape)
        std = torch.tensor(cfg.latents_std, dtype=torch.float32).view(shape)
        self.register_buffer("latents_mean", mean, persistent=False)
        self.register_buffer("latents_std", std, persistent=False)
        if cfg.tiling:
            self.vae.enable_tiling(
                tile_sample_min_height=cfg.tile_size,
                tile_sample_min_width=cfg.tile_size,
                tile_sample_stride_height=cfg.tile_stride,
                tile_sample_stride_width=cfg.tile_stride,
            )
        if cfg.slicing:
            self.vae.enable_slicing()

    @classmethod
    def from_original(cls, cfg: WanVAEConfig, path: str | Path | None = None) -> WanVAECodec:
        """Load original-layout weights (`path` or `cfg.weights_path`) into a new codec."""
        path = path if path is not None else cfg.weights_path
        if not path:
            raise WeightsError(f"no Wan2.2 VAE weights path set: {WAN_HINT}")
        state = read_original_state(path)
        try:
            state = wan_keys.original_to_diffusers(state)
        except KeyError as err:
            raise WeightsError(f"'{path}' is not a Wan2.2 VAE (unknown tensor {err})") from None
        with torch.device("meta"):
            vae = build_autoencoder(cfg)
        try:
            vae.load_state_dict(state, strict=True, assign=True)
        except RuntimeError as err:
            first = str(err).splitlines()[0]
            raise WeightsError(f"'{path}' does not match the Wan2.2 VAE config: {first}") from None
        return cls(cfg, vae.float().eval())

    @classmethod
    def from_diffusers(cls, cfg: WanVAEConfig, folder: str | Path) -> WanVAECodec:
        """Load a local diffusers folder (e.g. the `vae/` of Wan2.2-TI2V-5B-Diffusers)."""
        if not (Path(folder) / "config.json").is_file():
            raise WeightsError(f"no diffusers VAE in '{folder}': {WAN_HINT}")
        vae = AutoencoderKLWan.from_pretrained(str(folder), local_files_only=True)
        return cls(cfg, vae.eval())

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """frames: [B, 3, 1+4k, H, W] in [-1, 1] -> normalised latents [B, 48, 1+k, H/16, W/16]."""
        self.check_frames(frames)
        mu = self.vae.encode(frames).latent_dist.mode()
        return (mu - self.latents_mean.to(mu)) / self.latents_std.to(mu)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """latents: [B, 48, F', h, w] -> frames [B, 3, 1 + 4(F'-1), 16h, 16w] in [-1, 1]."""
        assert latents.ndim == 5 and latents.shape[1] == self.latent_channels, (
            f"latents must be [B, {self.latent_channels}, F', h, w], got {tuple(latents.shape)}"
        )
        z = latents * self.latents_std.to(latents) + self.latents_mean.to(latents)
        return self.vae.decode(z).sample
