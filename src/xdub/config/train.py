"""Configs of training runs and pseudo-pair generation (`xdub.train`). Imports: stdlib + config.

One dataclass per concern:
- `LoopConfig` (re-exported from `xdub.config.loop`): the generic loop every trainer runs on.
- `SynthSourceConfig` / `VideoSourceConfig` / `DataConfig`: where clips come from and how
  training windows (target frames, reference frames, masks) are cut from them.
- `Stage1Config`: the mask-based inpainting DiT recipe (`xdub.train.stage1`).
- `PairGenConfig`: `xdub make-pairs` (`xdub.train.pairgen`): sampling, filtering, sharding.
- `InpainterSpec`: what a trained inpainter folder is (written next to its weights).
YAML instances: `configs/train/stage1_{tiny,small,wan5b}.yaml`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from xdub.config.audio import AUDIO_PRESETS, AudioConfig
from xdub.config.codec import CODEC_PRESETS, CodecConfig
from xdub.config.diffusion import DIFFUSION_PRESETS, DiffusionConfig
from xdub.config.face import AlignConfig, FaceConfig
from xdub.config.loop import LoopConfig
from xdub.config.model import MODEL_PRESETS, DiTConfig, LipPriorConfig
from xdub.errors import ConfigError

# Seeds of synthetic training clips are drawn below this; held-out evaluation uses seeds from
# here on (the sync scorer keeps 900_000_000+, so we stay clear of both).
STAGE1_EVAL_SEED_BASE = 800_000_000


@dataclass(frozen=True, slots=True)
class SynthSourceConfig:
    """Single clips rendered in memory by the procedural engine (never its paired renders)."""

    scenario: str = "mixed"  # key of xdub.config.synth.SCENARIOS
    size: tuple[int, int] = (256, 256)  # rendered frame (width, height)
    clip_seconds: float = 2.0  # clip length; windows and references are cut from it
    first_seed: int = 0  # clip k uses seed first_seed + k
    num_clips: int = 100_000  # clips in one pass over the data (seeds first_seed .. + n - 1)

    def __post_init__(self) -> None:
        if self.num_clips < 1 or self.clip_seconds <= 0:
            raise ConfigError("data.synth: num_clips >= 1 and clip_seconds > 0")
        if self.first_seed + self.num_clips > STAGE1_EVAL_SEED_BASE:
            raise ConfigError("data.synth: training seeds must stay below the held-out seed range")


@dataclass(frozen=True, slots=True)
class VideoSourceConfig:
    """Real videos with precomputed face tracks (`<tracks_dir>/<video stem>.track.npz`)."""

    videos: tuple[str, ...] = ()  # files or glob patterns
    tracks_dir: str = ""  # folder of track files; "" = next to each video
    fps: float = 25.0  # videos are resampled to this rate on read


@dataclass(frozen=True, slots=True)
class DataConfig:
    """Which clips, and how a training window is cut from one."""

    source: Literal["synth", "video", "prepared"] = "synth"
    synth: SynthSourceConfig = field(default_factory=SynthSourceConfig)
    video: VideoSourceConfig = field(default_factory=VideoSourceConfig)
    prepared: str = ""  # `source: prepared`: an `xdub prepare` output (folder or fsspec URL)
    window_frames: int = 4  # target video frames per sample (1 + k * codec temporal factor)
    ref_frames: int = 1  # identity reference frames per sample (0 = none)
    ref_min_gap: int = 8  # references lie >= this many frames away from the target window
    #   (limits lip-shape leakage from the references; 0.3 s at 25 fps)
    mask_hold_s: float = 0.4  # lower-face mask = max over +-this many seconds: the mask shape
    #   then follows the jaw only slowly and cannot leak the target's lip motion
    windows_per_clip: int = 8  # windows drawn from each rendered clip (render cost amortised)
    shuffle_block: int = 8  # clips whose windows are shuffled together (= clips held in cache)
    num_workers: int = 0  # DataLoader workers (rendering in parallel to the model step)

    def __post_init__(self) -> None:
        if self.source == "prepared" and not self.prepared:
            raise ConfigError("data.source 'prepared' needs data.prepared (an xdub prepare "
                              "output folder or URL)")
        if self.window_frames < 1 or self.ref_frames < 0 or self.ref_min_gap < 0:
            raise ConfigError("data: window_frames >= 1, ref_frames >= 0, ref_min_gap >= 0")
        if self.windows_per_clip < 1 or self.shuffle_block < 1 or self.mask_hold_s < 0:
            raise ConfigError("data: windows_per_clip, shuffle_block >= 1; mask_hold_s >= 0")


@dataclass(frozen=True, slots=True)
class Stage1Config:
    """Mask-based inpainting DiT trained by self-reconstruction (X-Dub stage 1)."""

    model: DiTConfig = field(default_factory=lambda: MODEL_PRESETS["tiny"])  # cond_channels
    #   must be codec latent channels + codec temporal factor (masked latents + mask channels)
    source_fusion: Literal["in_context", "aligned_add"] = "in_context"  # how the source clip
    #   reaches the target tokens: in-context tokens only (official), or also added to the
    #   aligned target tokens (xdub.models.fusion; needed by tiny DiTs trained from scratch)
    init_from: str = ""  # optional DiT weights to start from (save_pretrained dir); keys with
    #   other shapes (e.g. the source embedding) keep their fresh init
    codec: CodecConfig = field(default_factory=lambda: CODEC_PRESETS["tiny"])
    codec_weights: str = "package"  # "package" = xdub/assets/codec_tiny, a folder, or "random"
    #   (tests only); the wan22 codec reads codec.wan.weights_path instead
    audio: AudioConfig = field(default_factory=lambda: AUDIO_PRESETS["tiny"])
    face: FaceConfig = field(default_factory=lambda: FaceConfig(align=AlignConfig(crop_size=64)))
    diffusion: DiffusionConfig = field(default_factory=lambda: DIFFUSION_PRESETS["tiny"])
    data: DataConfig = field(default_factory=DataConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    mouth_weight: float = 3.0  # loss weight inside the mouth mask (where the audio matters)
    outside_weight: float = 0.3  # loss weight outside the inpainting mask: the source stream
    #   gives that answer and pairs are composited there anyway; 1 = uniform
    motion_frames: int = 1  # latent frames of the window that may be given clean (chunking)
    p_motion: float = 0.5  # share of samples trained with those motion frames
    cache_latents: bool = True  # per-frame codecs: encode each clip once in the data pipeline
    #   (workers) instead of every window in the training step; same result, less compute
    sample_clips: int = 2  # held-out clips in the periodic sample grids/videos
    sample_steps: int = 8  # Euler steps for those samples
    lip_prior: LipPriorConfig = field(default_factory=LipPriorConfig)  # enabled: an audio lip
    #   prior (xdub.models.lip_prior, `identity: references`) first trains alone on these
    #   windows (`lip_prior/`, `pretrain_steps` at `pretrain_lr`), then rewrites the masked
    #   source the DiT sees (frozen: `train_with_editor` is stage 2's); sampling may start from
    #   its rewrite
    #   (`diffusion.denoise_strength`; design 3.1 session 18)
    ref_choice: Literal["random", "nearest"] = "random"  # written to inpainter.json

    def __post_init__(self) -> None:
        p = self.lip_prior
        if p.enabled and (p.identity != "references" or self.data.ref_frames < 1
                          or p.pretrain_steps < 1 or p.hide_box or p.sync_steps):
            raise ConfigError("stage1: a lip_prior needs identity: references, data.ref_frames "
                              ">= 1 and pretrain_steps >= 1 (the masked frames hold no mouth to "
                              "start from), and no hide_box or sync_steps (stage 2 only)")
        if self.motion_frames < 0 or not 0.0 <= self.p_motion <= 1.0 or self.mouth_weight < 0:
            raise ConfigError("stage1: motion_frames >= 0, p_motion in [0, 1], mouth_weight >= 0")
        if not 0.0 <= self.outside_weight <= 1.0:
            raise ConfigError("stage1: outside_weight must be in [0, 1]")
        if self.model.audio_dim is None:
            raise ConfigError("stage1: the inpainter needs an audio branch (model.audio_dim)")


@dataclass(frozen=True, slots=True)
class FilterConfig:
    """Acceptance thresholds of a pseudo-pair (every score is recorded whether it passes or not)."""

    min_donor_sync: float = 0.5  # mean P(sync) of V' with its driving audio A' (scorer), >=
    max_source_sync: float = 0.5  # mean P(sync) of V' with the kept audio A, <= (lips changed)
    min_sync_margin: float = 0.0  # P(sync | A') - P(sync | A) must exceed this
    min_psnr_outside: float = 24.0  # dB, raw inpainter output vs V outside the mask
    max_temporal_jump: float = 12.0  # worst extra frame-to-frame change inside the mask of V'
    #   over V's own, in 0..255 grey levels (flicker, chunk seams)
    use_sync: bool = True  # False: no scorer (sync scores are recorded as NaN and not tested)


@dataclass(frozen=True, slots=True)
class RealismFilterConfig:
    """A last pass over a finished pair store (`xdub.train.realism`): can a small classifier tell
    the mouths of V' from real ones? Stage 2 must not learn "copy the lips that look real" (issue
    #12), so a pair whose stage-1 mouth is easy to spot is not accepted. Each pair is scored by
    a judge trained on the other folds' clips (it never saw the pair's face). Off: on the tiny
    stage 1 every pair's mouths are off, and the kept pairs were no harder to tell from real
    ones than a random subset of the same size (design 3.1, session 21)."""

    enabled: bool = False
    min_score: float = 0.3  # mean P(real) of the pair's V' mouth frames, >=
    folds: int = 2  # clips split at random into folds; a pair is scored by the judge trained
    #   on the other folds
    steps: int = 1500  # judge training steps (batch 128); 600 leaves some seeds untrained
    box: tuple[float, float, float] = (0.5, 0.560, 0.616)  # mouth box: centre x, centre y,
    #   width as fractions of the crop (stage2_tiny_mouth.yaml's sync_box)
    side: int = 32  # the box is resized to side x side pixels
    seed: int = 0  # folds and judge initialisation

    def __post_init__(self) -> None:
        if self.folds < 2 or self.steps < 1 or self.side < 8 or not 0.0 <= self.min_score <= 1.0:
            raise ConfigError("pairs.realism: folds >= 2, steps >= 1, side >= 8, min_score in "
                              "[0, 1]")


@dataclass(frozen=True, slots=True)
class MouthRetrievalConfig:
    """Where stage 1 starts from (`xdub.train.retrieval`, issue #12: stage-1 mouths that look
    real). Enabled, each frame of V first takes the mouth region of the frame of V whose lips the
    sync scorer finds most in sync with the donor audio there (a best path over the clip, so runs
    of consecutive frames keep their real motion), and the inpainter denoises that composite
    from `strength` (SDEdit, `diffusion.denoise_strength`) instead of from pure noise. The
    tiny inpainter drawing from noise gives broken, speckled lips that a small classifier tells
    from real ones at ~75 % (design 3.1, session 21). Off: the method's plain stage 1."""

    enabled: bool = False
    strength: float = 0.1  # the inpainter's denoise strength from the retrieved composite;
    #   0 = the retrieved mouths as they are (the DiT does not run)
    hold_cost: float = 0.2  # path cost of showing the same frame again (a frozen mouth)
    jump_cost: float = 1.0  # path cost of a cut to a non-adjacent frame (a visible jump)
    distance_cost: float = 0.1  # path cost per clip length between a frame and its source
    #   (lighting and pose drift over a clip: nearer sources match better)
    match_light: bool = False  # scale each retrieved mouth, per channel, by its frame's light
    #   over the source frame's on a ring around the composite region (light that changes
    #   within a clip: the "lighting" scenario)
    min_gap: int = 8  # a frame never takes its mouth from fewer frames away: its own lips, or
    #   lips a few frames off, would be the answer and reward copying the input

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength <= 1.0:
            raise ConfigError(f"pairs.retrieval.strength must be in [0, 1], got {self.strength}")
        if min(self.hold_cost, self.jump_cost, self.distance_cost, self.min_gap) < 0:
            raise ConfigError("pairs.retrieval: costs and min_gap must be >= 0")


@dataclass(frozen=True, slots=True)
class PairGenConfig:
    """`xdub make-pairs`: run the inpainter with donor audio and store filtered pairs."""

    steps: int = 8  # Euler steps per chunk
    ref_scale: float | None = None  # guidance; None = the inpainter's diffusion config
    audio_scale: float | None = None
    donor_seed: int = 0  # donor pick and sampling noise derive from (this, item index)
    shard_size: int = 16  # source clips per shard (the most an interruption can lose)
    filters: FilterConfig = field(default_factory=FilterConfig)
    keep_rejected: bool = False  # also store arrays of rejected pairs (inspection, and the lip
    #   prior's pretraining with lip_prior.pretrain_pairs: all)
    # Where V' replaces V: "lower_face" = the inpainting mask (jaw and cheeks too: needed where
    # the jaw moves with speech, as on real video); "mouth" = the clip's mouth region grown by
    # mouth_grow x crop size (the synthetic engine moves only the lips: the pair then differs
    # only there, and the editor sees clean cheeks and jaw instead of stage-1 artifacts).
    composite: Literal["lower_face", "mouth"] = "lower_face"
    mouth_grow: float = 0.06
    keep_occluders: bool = True  # where the source clip knows its occluders (synthetic truth),
    #   V' keeps V's pixels there: the stage-1 inpainter redraws a hand over the mouth as skin
    #   and lips, and an editor trained on that learns to redraw occluders (issue #12)
    realism: RealismFilterConfig = field(default_factory=RealismFilterConfig)
    retrieval: MouthRetrievalConfig = field(default_factory=MouthRetrievalConfig)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.shard_size < 1:
            raise ConfigError("pairs: steps and shard_size must be >= 1")
        if not 0.0 < self.mouth_grow < 0.5:
            raise ConfigError(f"pairs: mouth_grow must be in (0, 0.5), got {self.mouth_grow}")


@dataclass(frozen=True, slots=True)
class InpainterSpec:
    """`inpainter.json` of a trained inpainter folder (beside `dit/` and `codec/`)."""

    mode: Literal["inpaint", "edit"] = "inpaint"  # how `encode_condition` builds the source
    codec: Literal["tiny", "wan22"] = "tiny"
    audio: AudioConfig = field(default_factory=lambda: AUDIO_PRESETS["tiny"])
    face: FaceConfig = field(default_factory=lambda: FaceConfig(align=AlignConfig(crop_size=64)))
    diffusion: DiffusionConfig = field(default_factory=lambda: DIFFUSION_PRESETS["tiny"])
    window_frames: int = 4  # video frames per generated chunk
    ref_frames: int = 1
    ref_min_gap: int = 8
    ref_choice: Literal["random", "nearest"] = "random"  # which frames >= ref_min_gap away
    #   are a chunk's references when generating: drawn at random (as in training), or the
    #   nearest (lit and posed most like the chunk: what a lip prior's guess starts from)
    motion_frames: int = 1  # latent frames carried over between chunks (0 = none)
    mask_hold_s: float = 0.4
    wan_weights: str = ""  # wan22 codec only: where the VAE weights were read from
