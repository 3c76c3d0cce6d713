"""Config of the video codecs (`xdub.models.codec`) and of tiny-codec training. Stdlib only.

`CodecConfig.kind` picks `TinyVideoCodec` ("tiny", ours) or `WanVAECodec` ("wan22", the Wan2.2
TI2V-5B VAE the official X-Dub release uses). `WanVAEConfig` values marked "fact" describe the
released VAE and must not change, or `Wan2.2_VAE.safetensors` no longer loads / latents no
longer match the released DiT. `CODEC_PRESETS` names both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from xdub.config.loop import LoopConfig
from xdub.errors import ConfigError

# Per-channel statistics of Wan2.2 VAE latents (facts from the official release): the codec
# returns (mu - mean) / std and decodes z * std + mean.
WAN22_LATENTS_MEAN = (
    -0.2289, -0.0052, -0.1323, -0.2339, -0.2799, 0.0174, 0.1838, 0.1557,
    -0.1382, 0.0542, 0.2813, 0.0891, 0.1570, -0.0098, 0.0375, -0.1825,
    -0.2246, -0.1207, -0.0698, 0.5109, 0.2665, -0.2108, -0.2158, 0.2502,
    -0.2055, -0.0322, 0.1109, 0.1567, -0.0729, 0.0899, -0.2799, -0.1230,
    -0.0313, -0.1649, 0.0117, 0.0723, -0.2839, -0.2083, -0.0520, 0.3748,
    0.0152, 0.1957, 0.1433, -0.2944, 0.3573, -0.0548, -0.1681, -0.0667,
)  # fmt: skip
WAN22_LATENTS_STD = (
    0.4765, 1.0364, 0.4514, 1.1677, 0.5313, 0.4990, 0.4818, 0.5013,
    0.8158, 1.0344, 0.5894, 1.0901, 0.6885, 0.6165, 0.8454, 0.4978,
    0.5759, 0.3523, 0.7135, 0.6804, 0.5833, 1.4146, 0.8986, 0.5659,
    0.7069, 0.5338, 0.4889, 0.4917, 0.4069, 0.4999, 0.6866, 0.4093,
    0.5709, 0.6065, 0.6415, 0.4944, 0.5726, 1.2042, 0.5458, 1.6887,
    0.3971, 1.0600, 0.3943, 0.5537, 0.5444, 0.4089, 0.7468, 0.7744,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class WanVAEConfig:
    """diffusers `AutoencoderKLWan` set up as the Wan2.2 VAE (48 ch, 4x time, 16x space)."""

    base_dim: int = 160  # encoder width (fact)
    decoder_base_dim: int = 256  # decoder width (fact)
    z_dim: int = 48  # latent channels (fact)
    dim_mult: tuple[int, ...] = (1, 2, 4, 4)  # width multipliers per level (fact)
    num_res_blocks: int = 2  # residual blocks per encoder level; decoder uses +1 (fact)
    temporal_downsample: tuple[bool, ...] = (False, True, True)  # levels halving time (fact)
    patch_size: int = 2  # pixel-unshuffle before the encoder: 3 -> 12 channels (fact)
    latents_mean: tuple[float, ...] = WAN22_LATENTS_MEAN
    latents_std: tuple[float, ...] = WAN22_LATENTS_STD
    weights_path: str = ""  # Wan2.2_VAE.safetensors / .pth (original key layout)
    tiling: bool = False  # encode/decode in overlapping spatial tiles to bound memory
    tile_size: int = 256  # tile side in pixels; multiple of 32 (spatial factor x patch)
    tile_stride: int = 192  # tile step in pixels (< tile_size: the overlap is blended)
    slicing: bool = True  # process a batch one video at a time (memory, not speed)

    def __post_init__(self) -> None:
        if len(self.latents_mean) != self.z_dim or len(self.latents_std) != self.z_dim:
            raise ConfigError("codec.wan: latents_mean/std need z_dim values")
        if len(self.temporal_downsample) != len(self.dim_mult) - 1:
            raise ConfigError("codec.wan: temporal_downsample needs len(dim_mult) - 1 flags")
        if not 0 < self.tile_stride <= self.tile_size:
            raise ConfigError("codec.wan: need 0 < tile_stride <= tile_size")

    @property
    def spatial_factor(self) -> int:
        """Pixels per latent along H and W (2x per level below the top, times the patch)."""
        return self.patch_size * 2 ** (len(self.dim_mult) - 1)

    @property
    def temporal_factor(self) -> int:
        """Frames per latent frame after the first."""
        return 2 ** sum(self.temporal_downsample)


@dataclass(frozen=True, slots=True)
class TinyCodecConfig:
    """Per-frame 2D conv autoencoder for 64x64 face crops (temporal factor 1)."""

    image_size: int = 64  # crop side it is trained on (any multiple of spatial_factor works)
    latent_channels: int = 16  # latent width; 16 x 16 x 16 per frame = 3x fewer values than RGB
    #   (a linear code of 4x4 patches reaches ~33 dB at 16, ~28 dB at 8)
    patch_size: int = 2  # pixel-unshuffle first (as Wan): convs run at 1/2 resolution, 4x cheaper
    widths: tuple[int, ...] = (32, 64)  # conv width per level; each level after the first
    #   halves H and W, so spatial_factor = patch_size * 2 ** (len(widths) - 1) = 4
    res_blocks: int = 1  # residual blocks per level
    latent_noise: float = 0.05  # train-time N(0, s) added to latents so the decoder tolerates
    #   the imperfect latents a diffusion model produces; 0 .. 0.3
    latent_l2: float = 1e-4  # weight of a penalty keeping raw latents near unit scale
    latents_mean: tuple[float, ...] = ()  # per-channel stats measured after training;
    latents_std: tuple[float, ...] = ()  #   () = identity (mean 0, std 1)

    def __post_init__(self) -> None:
        if not self.widths or self.patch_size < 1 or self.image_size % self.spatial_factor:
            raise ConfigError("codec.tiny: image_size must be a multiple of spatial_factor")
        if self.latents_mean and len(self.latents_mean) != self.latent_channels:
            raise ConfigError("codec.tiny: latents_mean needs latent_channels values")
        if len(self.latents_mean) != len(self.latents_std):
            raise ConfigError("codec.tiny: latents_mean and latents_std differ in length")

    @property
    def spatial_factor(self) -> int:
        """Pixels per latent along H and W."""
        return self.patch_size * 2 ** (len(self.widths) - 1)


@dataclass(frozen=True, slots=True)
class CodecConfig:
    """Which codec to build, with the settings of each."""

    kind: Literal["tiny", "wan22"] = "tiny"
    tiny: TinyCodecConfig = field(default_factory=TinyCodecConfig)
    wan: WanVAEConfig = field(default_factory=WanVAEConfig)


# The codec recipe's loop: plain AdamW betas, cosine to 5 % of the peak, no EMA (the exported
# codec is the trained weights, as the shipped one), held-out PSNR at every checkpoint.
CODEC_LOOP = LoopConfig(steps=3000, batch_size=16, lr=2e-3, min_lr_ratio=0.05, warmup=100,
                        weight_decay=0.0, betas=(0.9, 0.999), grad_clip=1.0, ema_decay=0.0,
                        ckpt_every=500, log_every=50, sample_every=500)


@dataclass(frozen=True, slots=True)
class CodecTrainConfig:
    """Training of the tiny codec (`xdub.train.codec`): the loop plus the reconstruction loss."""

    loop: LoopConfig = field(default_factory=lambda: CODEC_LOOP)  # steps, batch (crops per
    #   step), AdamW, checkpoints; `sample_every` = steps between held-out PSNR evaluations
    l1_weight: float = 1.0  # mean |x - x_hat|: sharp edges
    mse_weight: float = 1.0  # mean (x - x_hat)^2: what PSNR measures
    grad_weight: float = 0.5  # L1 between image gradients: crisp lips/teeth boundaries
    eval_crops: int = 64  # held-out crops for PSNR
    pca_crops: int = 256  # crops for the PCA initialisation of the codec's linear shortcuts
    stats_crops: int = 256  # fresh crops for the per-channel latent stats measured at the end
    # --- robust decoder (issue #12): decode slightly-off latents without colour speckle ------
    init_from: str = ""  # codec folder to fine-tune ("package" = the shipped codec); "" = new
    decoder_only: bool = False  # freeze the encoder and keep its latent stats: latents do not
    #   change, so every DiT trained on this codec stays valid with the new decoder
    decoder_noise: float = 0.0  # max std of extra latent noise, in NORMALISED latent units
    #   (std ~1): per image sigma ~ U(0, decoder_noise). DiT x0 errors are ~0.2-0.4 there; the
    #   first decoder saw 0.05 raw and turned such errors into 8-px colour mosaics
    noise_block: int = 2  # half of that noise is constant over blocks of this many latent
    #   pixels: one DiT token (2x2 latent patch) is wrong as a whole

    def __post_init__(self) -> None:
        if min(self.eval_crops, self.pca_crops, self.stats_crops) < 1:
            raise ConfigError("train.codec: eval_crops, pca_crops, stats_crops must be >= 1")
        if self.decoder_noise < 0 or self.noise_block < 1:
            raise ConfigError("train.codec: decoder_noise >= 0 and noise_block >= 1")
        if self.decoder_only and not self.init_from:
            raise ConfigError("train.codec: decoder_only needs init_from (a trained codec)")


CODEC_PRESETS: dict[str, CodecConfig] = {
    # 64x64 crops -> [16, 16, 16] latents per frame, temporal factor 1.
    "tiny": CodecConfig(kind="tiny"),
    # The official release: Wan2.2 VAE, [48, 1 + (F-1)/4, H/16, W/16] latents.
    "wan22": CodecConfig(kind="wan22"),
}
