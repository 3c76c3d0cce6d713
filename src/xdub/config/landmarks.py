"""Configs of the landmark refiner (`xdub.models.landmark_net`) and its training recipe
(`xdub.train.landmarks`). Imports: stdlib + config.

Why a refiner at all (issue #12, non-human faces): the tiny default is trained on crops cut
from the engine's exact landmarks, but at dubbing the landmarks come from MediaPipe's mesh,
which does not fit animals, reptiles or aliens the way the engine places their eyes, nose and
mouth (and does not fit most reptiles at all: then only BlazeFace's four keypoints are left).
The crop the editor sees is then shifted, scaled or turned from what it learned. Dubbing the
non-human tuning clips with the engine's own landmarks instead of the detector's: mouth PSNR -
copy +2.19 -> +4.54 dB (design 3.1 session 17). A small network that moves the detector's
landmarks to where the engine would put them gives the editor the crop it was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from xdub.config.face import AlignConfig
from xdub.config.loop import LoopConfig
from xdub.errors import ConfigError


def _refiner_crop() -> AlignConfig:
    # the whole head: the detector's landmarks may be off by a third of the face
    return AlignConfig(crop_size=64, extent=3.2, center_y=0.6, use_mouth=True, mouth_weight=0.5,
                       smooth=False, interpolation="linear")


@dataclass(frozen=True, slots=True)
class LandmarkNetConfig:
    """A small CNN over one face crop placed by the current landmarks: RGB in; the 68 landmarks
    in that crop (as offsets from where the mean face sits in it) and a face-presence logit
    out."""

    crop: AlignConfig = field(default_factory=_refiner_crop)  # how the input crop is cut
    width: int = 32  # channels of the first level; doubled per level up to 4x
    levels: int = 4  # stride-2 levels (64 px -> 4 px)
    hidden: int = 256  # the fully connected layer before the 137 outputs

    def __post_init__(self) -> None:
        if self.width < 1 or self.levels < 1 or self.hidden < 1:
            raise ConfigError("landmark net: width, levels and hidden >= 1")
        if self.crop.crop_size % 2 ** self.levels:
            raise ConfigError("landmark net: crop.crop_size must be divisible by 2 ** levels")


@dataclass(frozen=True, slots=True)
class LandmarkRefineConfig:
    """Dubbing-time use of a folder's `landmarks/` refiner (`dubber.json` `landmarks`)."""

    enabled: bool = False
    passes: int = 2  # crop, predict, re-crop from the prediction, predict again
    # Faces the detector scores too low (BlazeFace misses some reptiles): when it finds no face
    # anywhere in what is dubbed, a second pass takes, in each frame where it finds none, its
    # boxes down to `fallback_score` as candidates; each is refined `fallback_passes` times from
    # its coarse landmarks and kept where the refiner's face presence in the last crop is
    # `min_presence` or more (the best per place). Only then: the refiner has seen synthetic
    # characters only, and takes some logos for faces (design 3.1 session 17).
    fallback_score: float = 0.0  # 0 = no fallback
    fallback_model: Literal["short", "full"] = "full"  # BlazeFace model listing the candidates
    fallback_candidates: int = 5  # at most this many per frame, best score first
    fallback_passes: int = 4  # a candidate may be half a face away: more passes than `passes`
    min_presence: float = 0.9

    def __post_init__(self) -> None:
        if not 1 <= self.passes <= 5 or not 1 <= self.fallback_passes <= 8:
            raise ConfigError("landmarks: passes within 1 .. 5, fallback_passes within 1 .. 8")
        if not 0.0 <= self.fallback_score < 1.0 or not 0.0 < self.min_presence < 1.0:
            raise ConfigError("landmarks: fallback_score in [0, 1), min_presence in (0, 1)")
        if self.fallback_candidates < 1:
            raise ConfigError("landmarks.fallback_candidates must be >= 1")


@dataclass(frozen=True, slots=True)
class LandmarkTrainConfig:
    """`xdub train landmarks`: engine frames with their exact landmarks; each frame is cropped
    from landmarks that are off (a random similarity away from the truth, and where the
    detector finds the face, from the detector's own landmarks) and the net learns the truth."""

    model: LandmarkNetConfig = field(default_factory=LandmarkNetConfig)
    loop: LoopConfig = field(default_factory=lambda: LoopConfig(
        steps=8000, batch_size=8, lr=1e-3, warmup=50, ckpt_every=500, log_every=50,
        sample_every=0, ema_decay=0.999))
    scenarios: tuple[str, ...] = ("mixed", "nonhuman", "stylized")
    clips: tuple[int, ...] = (300, 400, 100)  # clips rendered per scenario (in memory)
    val_clips: int = 30  # held-out clips per scenario, scored at the end (final/metrics.json)
    first_seed: int = 4_000_000  # scenario k's clips: first_seed + k * SEEDS_PER_SCENARIO + i
    clip_seconds: float = 1.0
    frame_stride: int = 2  # every n-th frame of a clip
    size: tuple[int, int] = (256, 256)  # rendered frame (width, height)
    jittered: int = 2  # crops per frame from randomly displaced true landmarks
    jitter_shift: float = 0.25  # max displacement of the crop centre, in IODs
    jitter_scale: float = 0.2  # max relative zoom
    jitter_degrees: float = 12.0  # max rotation
    jitter_gain: float = 0.25  # random brightness / contrast change, relative
    detector: bool = True  # one more crop per frame from the detector's landmarks, if found
    negatives: int = 1  # crops per frame placed where the face is not (a random similarity
    #   1.5 .. 4 IODs away from it): the presence output learns to say "no face here"
    hard_negatives: int = 2  # up to this many more per frame from the fallback's own candidates
    #   (low-score BlazeFace boxes) that are not the face (eyes over one IOD off)
    presence_weight: float = 1.0  # weight of the presence BCE beside the landmark loss
    dubbing: LandmarkRefineConfig = field(default_factory=lambda: LandmarkRefineConfig(
        enabled=True, fallback_score=0.1))  # how dubbing uses the refiner: the held-out
    #   figures are measured with it, and the chain exports it into dubber.json `landmarks`
    keypoint_weight: float = 4.0  # extra loss weight of the points the alignment uses (eye
    #   centres, nose tip, mouth corners)

    def __post_init__(self) -> None:
        if len(self.scenarios) != len(self.clips) or min(self.clips, default=0) < 1:
            raise ConfigError("landmarks: one clip count >= 1 per scenario")
        if self.frame_stride < 1 or self.jittered < 0 or (self.jittered == 0 and not self.detector):
            raise ConfigError("landmarks: frame_stride >= 1 and some crops per frame")
