"""Config of raw-video preparation (`xdub.data.prepare`, `xdub prepare`). Stdlib only.

One dataclass per step, so each step function receives only its own thresholds; the whole is
`PrepareConfig`. Every threshold below is a reject rule; its reason name is in the comment.
Presets: `PREPARE_PRESETS` ("tiny": 96 px crops for the tiny models, "wan5b": 512 px).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdub.config.audio import AudioConfig
from xdub.config.codec import CodecConfig
from xdub.config.face import FaceConfig
from xdub.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ProbeRules:
    """Step 1: what a raw file must have before it is decoded at all."""

    min_seconds: float = 2.0  # shorter -> "too_short"
    min_side: int = 128  # display short side in px; smaller -> "low_resolution"
    require_audio: bool = True  # no audio stream -> "no_audio"


@dataclass(frozen=True, slots=True)
class SegmentRules:
    """Step 2: shots cut into training clips. A shot starts where the face tracker sees a scene
    cut (`face.track.scene_cut_threshold`), so shots and face tracks share one cut rule."""

    fps: float = 25.0  # every clip is resampled to this rate (the models' and scorer's rate)
    clip_seconds: float = 5.0  # clips are cut from each shot in pieces of this length
    min_clip_seconds: float = 2.0  # a shorter shot or remainder -> "short_shot"
    trim_frames: int = 2  # frames dropped next to each cut (fades, half-decoded frames)


@dataclass(frozen=True, slots=True)
class FaceRules:
    """Step 3: one dominant, large, frontal-enough face that stays in the clip."""

    min_face_fraction: float = 0.15  # face-box side / frame short side; smaller -> "small_face"
    min_presence: float = 0.9  # fraction of clip frames the face is detected in -> "face_lost"
    max_yaw_deg: float = 35.0  # landmark yaw estimate; beyond -> "head_pose"
    max_pitch_deg: float = 30.0  # landmark pitch estimate; beyond -> "head_pose"
    dominance: float = 0.6  # another face at least this fraction of the main size -> the clip
    one_per_track: bool = True  # ... yields one clip per such face (else -> "multiple_faces")


@dataclass(frozen=True, slots=True)
class SyncRules:
    """Step 5: audio-video offset with the lip-sync scorer, corrected within a bound."""

    scorer: str = "auto"  # "auto" = the shipped tiny scorer, or a scorer folder
    max_offset: int = 15  # offsets searched, +- frames (the SyncNet protocol's range)
    max_correction: int = 5  # |offset| above this -> "offset_too_large"; at most this is fixed
    # Scorer confidence (LSE-C) below -> "low_sync_confidence". The shipped tiny scorer gives
    # 0.1 .. 0.7 on speaking synthetic faces with detected landmarks; a trained full-scale
    # scorer needs its own value (SyncNet-based pipelines use LSE-C >= 3).
    min_confidence: float = 0.1
    # In a shot piece with several faces kept, keep only the one the audio belongs to (highest
    # confidence); the others -> "not_speaker". False keeps every face's clip.
    speaker_only: bool = True


@dataclass(frozen=True, slots=True)
class QualityRules:
    """Step 6: image quality of the aligned face crops (median over the clip)."""

    min_sharpness: float = 20.0  # variance of the Laplacian of the grey crop -> "blurry"
    min_brightness: float = 40.0  # mean luma 0..255 -> "dark"
    max_brightness: float = 215.0  # mean luma -> "overexposed"
    max_clipped: float = 0.2  # fraction of pixels at 0 or 255 -> "clipped_exposure"
    max_blockiness: float = 1.6  # 8x8 grid-edge / off-grid gradient ratio -> "blocky"


@dataclass(frozen=True, slots=True)
class CacheRules:
    """Step 7 (optional): codec latents and audio features stored with each clip, so
    full-scale training does not run the frozen VAE and speech encoders again."""

    codec: CodecConfig | None = None  # e.g. CODEC_PRESETS["wan22"]; None = no latents
    codec_weights: str = "package"  # tiny codec: "package", "random" or a folder
    audio: AudioConfig | None = None  # e.g. AUDIO_PRESETS["full"]; None = no audio features


@dataclass(frozen=True, slots=True)
class PrepareConfig:
    """All of `xdub prepare`: rules per step, crop geometry, and the sharding of the output."""

    probe: ProbeRules = field(default_factory=ProbeRules)
    segment: SegmentRules = field(default_factory=SegmentRules)
    faces: FaceRules = field(default_factory=FaceRules)
    sync: SyncRules = field(default_factory=SyncRules)
    quality: QualityRules = field(default_factory=QualityRules)
    face: FaceConfig = field(default_factory=FaceConfig)  # detection, tracking, crop alignment
    cache: CacheRules = field(default_factory=CacheRules)
    videos_per_shard: int = 4  # input videos per output shard (= work lost when killed)
    thumbnails: int = 12  # report thumbnails of kept and of rejected clips, each

    def __post_init__(self) -> None:
        seg = self.segment
        if seg.fps <= 0 or seg.clip_seconds <= 0 or seg.min_clip_seconds > seg.clip_seconds:
            raise ConfigError("segment: need fps > 0 and 0 < min_clip_seconds <= clip_seconds")
        if self.sync.max_correction > self.sync.max_offset:
            raise ConfigError("sync.max_correction must be <= sync.max_offset")
        if self.videos_per_shard < 1:
            raise ConfigError("videos_per_shard must be >= 1")


def _with_crop(size: int) -> PrepareConfig:
    from xdub.config.face import FACE_PRESETS

    name = "tiny" if size == 96 else "wan5b"
    return PrepareConfig(face=FACE_PRESETS[name])


PREPARE_PRESETS: dict[str, PrepareConfig] = {"tiny": _with_crop(96), "wan5b": _with_crop(512)}
