"""Config of the dubbing Diffusion Transformer (`xdub.models`). Imports: stdlib + xdub.errors.

One frozen dataclass, `DiTConfig`, and named presets in `MODEL_PRESETS`. The `wan5b` preset is
the architecture of the official X-Dub release (a Wan2.2-TI2V-5B DiT with audio cross-attention);
its field values are facts read from the release and must not change, or the official
`X-Dub_model.safetensors` no longer loads. `tiny` and `small` are ours, for CPU tests and
small-scale training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from xdub.errors import ConfigError


@dataclass(frozen=True, slots=True)
class DiTConfig:
    """Widths, depths and conditioning options of `xdub.models.XDubDiT`."""

    # --- latents and tokens ---------------------------------------------------------------------
    latent_channels: int = 48  # channels of noisy latents in and prediction out (Wan2.2 VAE: 48)
    cond_channels: int | None = None  # source-stream channels; None = same as latents and the
    #   source shares the patch embedding (official); e.g. latents + mask channels for the inpainter
    patch_size: tuple[int, int, int] = (1, 2, 2)  # (frames, height, width) of one token
    # --- transformer width/depth ----------------------------------------------------------------
    dim: int = 3072  # token width; head_dim = dim / num_heads
    num_layers: int = 30  # DiT blocks
    num_heads: int = 24  # attention heads; head_dim must split into 3 even RoPE parts
    ffn_dim: int = 14336  # hidden width of each block's MLP (~4.7x dim in Wan2.2-5B)
    freq_dim: int = 256  # sinusoidal timestep embedding width
    eps: float = 1e-6  # LayerNorm / RMSNorm epsilon (Wan: 1e-6)
    rope_theta: float = 10000.0  # RoPE base (Wan: 1e4)
    # --- text cross-attention (the official model only ever sees the empty prompt) ---------------
    text_dim: int | None = 4096  # context width (umT5-XXL: 4096); None = no text cross-attention
    null_context_len: int = 512  # tokens of the built-in null context (official pads to 512)
    # --- audio ----------------------------------------------------------------------------------
    audio_dim: int | None = 2048  # per-window feature width (whisper 1280 + wav2vec2 768);
    #   None = no audio branch
    audio_layers: tuple[int, ...] | None = None  # blocks with audio cross-attn; None = all
    audio_proj_dim: int = 1536  # inner width of the audio projection (official: 1536)
    audio_proj_layers: int = 4  # residual layers in the audio projection (official: 4)
    audio_proj_heads: int = 24  # heads of the window self-attention (official: 24 x 64)
    audio_proj_attn: bool = True  # window self-attention in the audio projection (official: on)
    audio_max_window: int = 100  # length of the audio positional table (official: 100)

    def __post_init__(self) -> None:
        where = "DiTConfig"
        if self.dim % self.num_heads:
            raise ConfigError(f"{where}: dim {self.dim} not divisible by {self.num_heads} heads")
        head_dim = self.dim // self.num_heads
        # RoPE splits head_dim into (frame, height, width) parts, each rotated in pairs.
        third = head_dim // 3
        if head_dim % 2 or third % 2:
            raise ConfigError(f"{where}: head_dim {head_dim} must be even with an even third")
        if min(self.latent_channels, self.num_layers, self.ffn_dim, self.freq_dim) < 1:
            raise ConfigError(f"{where}: channel/layer/width counts must be >= 1")
        if self.freq_dim % 2:
            raise ConfigError(f"{where}: freq_dim must be even")
        if self.cond_channels is not None and self.cond_channels < 1:
            raise ConfigError(f"{where}: cond_channels must be >= 1 or null")
        if self.audio_layers is not None and any(
            not 0 <= i < self.num_layers for i in self.audio_layers
        ):
            raise ConfigError(f"{where}: audio_layers must lie in [0, {self.num_layers})")
        if self.audio_proj_dim % self.audio_proj_heads:
            raise ConfigError(f"{where}: audio_proj_dim must be divisible by audio_proj_heads")

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.dim // self.num_heads

    def has_audio_in(self, layer: int) -> bool:
        """Whether block `layer` has audio cross-attention."""
        if self.audio_dim is None:
            return False
        return self.audio_layers is None or layer in self.audio_layers


MODEL_PRESETS: dict[str, DiTConfig] = {
    # ~1.7M params: CPU tests and minute-scale overfitting runs. latent_channels follows our tiny
    # codec (pin it when the codec lands); audio_dim 2048 = the official feature layout.
    "tiny": DiTConfig(
        latent_channels=16,
        dim=128,
        num_layers=4,
        num_heads=4,
        ffn_dim=512,
        freq_dim=64,
        text_dim=None,
        audio_proj_dim=128,
        audio_proj_layers=1,
        audio_proj_heads=4,
    ),
    # ~45M params: single-GPU experiments at modest resolution.
    "small": DiTConfig(
        latent_channels=16,
        dim=512,
        num_layers=8,
        num_heads=4,  # head_dim 128 as in Wan (64 does not split into even RoPE thirds)
        ffn_dim=2048,
        freq_dim=256,
        text_dim=None,
        audio_proj_dim=512,
        audio_proj_layers=2,
        audio_proj_heads=8,
    ),
    # The official X-Dub release (Wan2.2-TI2V-5B + audio): every value here is a fact.
    "wan5b": DiTConfig(),
}


@dataclass(frozen=True, slots=True)
class LipPriorConfig:
    """The audio lip prior of a tiny editor (`xdub.models.lip_prior`): a small convolutional
    regressor trained directly on the target mouth, whose guess replaces the source's mouth
    before the DiT sees it. Off by default (and in every full-scale preset)."""

    enabled: bool = False
    context_frames: int = 2  # audio windows on each side of a frame (2 = 5 windows, 0.2 s)
    audio_width: int = 128  # per-window audio embedding
    width: int = 64  # channels of the convolutional decoder
    layers: int = 3  # 3x3 conv layers before the output conv
    mouth_weight: float = 10.0  # loss weight inside the mouth region (1 outside)
    loss: Literal["mse", "l1"] = "mse"  # l1: the per-latent median of the plausible mouths
    #   instead of their mean (an open/closed ambiguity then picks one, not a grey blend)
    loss_weight: float = 1.0  # of the prior's regression loss beside the DiT objective
    pretrain_steps: int = 0  # prior-only steps before the editor's sub-runs (its own loop run,
    #   `<run>/lip_prior/`; the direct loss learns audio -> mouth in minutes); 0 = none
    pretrain_lr: float = 1e-3
    sync_steps: int = 0  # then prior-only steps with the sync scorer's loss added (`<run>/
    #   lip_prior_sync/`, from the pretrained weights; needs `scorer_weights`): the expert loss
    #   of Wav2Lip and LatentSync on the prior's decoded mouth; 0 = none
    sync_weight: float = 0.1  # x the scorer's -log P(sync) (the scorer window in the middle of
    #   each sample) beside the regression loss, in those steps
    sync_lr: float = 3e-4
    train_with_editor: bool = True  # after its pretraining the prior keeps training on its own
    #   loss in the editor's full-weight sub-runs (accepted pairs, the editor's learning rate);
    #   False = frozen there (the LoRA experts always keep it frozen)
    pretrain_pairs: Literal["accepted", "all"] = "accepted"  # all: the pretraining also reads
    #   pairs the filters rejected (real target mouths and audio; the V' mouth is replaced anyway)
    identity: Literal["chunk", "references"] = "chunk"  # what the guess starts from: the mean
    #   of the chunk's own frames, or of its identity references (`data.ref_frames`, drawn
    #   >= `ref_min_gap` frames away). At dubbing the chunk's frames hold the old lips, so its
    #   mean passes them on; the references do not, but one far frame mispredicts the
    #   present one's lighting: tuning seeds -0.13 dB, corr. 0.55 (design 3.1 session 13)
    match_light: bool = False  # with `identity: references`: the references' mean moves, per
    #   latent channel, by how much the chunk's frames differ from it where both are seen (not
    #   masked, not occluded): the chunk's light, the references' mouth (stage 1, whose
    #   reference is >= 8 frames away; design 3.1 session 18)
    light_ring: int = 0  # with `match_light`: measure the shift only where it is seen within
    #   this many latent pixels of what is unseen (the skin around an inpainting mask, lit as
    #   the mouth is) instead of everywhere seen (a background that moves with the head as
    #   much as with the light); 0 = everywhere seen
    hide_box: tuple[float, ...] = ()  # (top, bottom, left, right) fractions of the latent
    #   frame: inside it the prior sees the clip's mean frame instead of each frame and its
    #   guess always replaces the source, so no frame's own lips reach the editor through the
    #   prior (the leak of issue #12). The aligned crop puts the mouth at a fixed place:
    #   (0.31, 0.88, 0.12, 0.88) covers every training mouth. () = off

    def __post_init__(self) -> None:
        if self.context_frames < 0 or min(self.audio_width, self.width, self.layers) < 1:
            raise ConfigError("lip_prior: context_frames >= 0; audio_width, width, layers >= 1")
        if self.mouth_weight < 1 or self.loss_weight < 0:
            raise ConfigError("lip_prior: mouth_weight >= 1 and loss_weight >= 0")
        if self.identity not in ("chunk", "references"):
            raise ConfigError("lip_prior.identity: chunk or references")
        if self.match_light and self.identity != "references":
            raise ConfigError("lip_prior.match_light moves the references: identity: references")
        if self.light_ring < 0:
            raise ConfigError("lip_prior.light_ring: latent pixels >= 0 (0 = everywhere seen)")
        if self.pretrain_pairs not in ("accepted", "all"):
            raise ConfigError("lip_prior.pretrain_pairs: accepted or all")
        if min(self.pretrain_steps, self.sync_steps, self.sync_weight) < 0 or min(
                self.pretrain_lr, self.sync_lr) <= 0:
            raise ConfigError("lip_prior: pretrain_steps, sync_steps, sync_weight >= 0 and "
                              "pretrain_lr, sync_lr > 0")
        box = self.hide_box
        if box and not (len(box) == 4 and 0 <= box[0] < box[1] <= 1 and 0 <= box[2] < box[3] <= 1):
            raise ConfigError("lip_prior.hide_box: (top, bottom, left, right) fractions, "
                              "top < bottom and left < right, or () for none")
