"""Configs of the occluder segmenter (`xdub.models.occluder_net`) and its training recipe
(`xdub.train.occluders`). Imports: stdlib + config.

Why a segmenter at all (issue #12, occluders): the tiny editor cannot tell a hand held over the
mouth from lips, and draws a mouth onto it. A small per-pixel network that marks what covers the
face in the aligned crop lets dubbing keep the input's pixels there (`OccluderKeepConfig` in
`xdub.config.infer`), the way face-swapping tools keep occlusions with an occluder mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdub.config.face import AlignConfig
from xdub.config.loop import LoopConfig
from xdub.errors import ConfigError


@dataclass(frozen=True, slots=True)
class OccluderNetConfig:
    """A small U-Net over one aligned face crop: RGB in, one occluder logit per pixel out."""

    width: int = 16  # channels of the full-resolution level; doubled per level up to 4x
    levels: int = 4  # resolution levels (3 halvings: 64 px -> 8 px, a hand-sized context)
    groups: int = 8  # GroupNorm groups (must divide every level's width)

    def __post_init__(self) -> None:
        if self.width < 1 or self.levels < 1 or self.groups < 1:
            raise ConfigError("occluder net: width, levels and groups >= 1")
        if any(self.width * 2 ** min(i, 2) % self.groups for i in range(self.levels)):
            raise ConfigError("occluder net: groups must divide width, 2 * width and 4 * width")


@dataclass(frozen=True, slots=True)
class OccluderTrainConfig:
    """`xdub train occluders`: engine clips, cropped as dubbing crops them, with their true
    occluder masks warped into the crop (`xdub.train.pairgen.occluders_in_crops`)."""

    model: OccluderNetConfig = field(default_factory=OccluderNetConfig)
    loop: LoopConfig = field(default_factory=lambda: LoopConfig(
        steps=3000, batch_size=32, lr=2e-3, warmup=100, ckpt_every=250, log_every=25,
        sample_every=0, ema_decay=0.99))
    align: AlignConfig = field(default_factory=AlignConfig)  # must match the dubber's crop
    scenarios: tuple[str, ...] = ("occlusion", "mixed", "nonhuman")  # engine scenarios of the
    #   clip pool (non-human muzzles look like held objects: they get clips of their own)
    clips: tuple[int, ...] = (600, 300, 150)  # clips rendered per scenario (in memory)
    val_clips: int = 40  # held-out clips per scenario, scored at the end (final/metrics.json)
    first_seed: int = 3_000_000  # scenario k's clips: first_seed + k * SEEDS_PER_SCENARIO + i
    clip_seconds: float = 2.0
    size: tuple[int, int] = (256, 256)  # rendered frame (width, height)
    occluded_share: float = 0.5  # share of a batch drawn from frames with an occluder in view
    jitter_px: float = 3.0  # random crop shift (px at the crop size; tracking is not exact)
    jitter_scale: float = 0.08  # random crop zoom, relative
    jitter_degrees: float = 6.0  # random crop rotation
    jitter_gain: float = 0.25  # random brightness / contrast change, relative
    dice_weight: float = 1.0  # soft Dice loss beside the per-pixel BCE (masks are small)

    def __post_init__(self) -> None:
        if len(self.scenarios) != len(self.clips) or min(self.clips, default=0) < 1:
            raise ConfigError("occluders: one clip count >= 1 per scenario")
        if not 0.0 <= self.occluded_share <= 1.0:
            raise ConfigError("occluders: occluded_share in [0, 1]")
        if self.val_clips < 0 or self.clip_seconds <= 0:
            raise ConfigError("occluders: val_clips >= 0 and clip_seconds > 0")
