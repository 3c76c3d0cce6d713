"""Config of dubbing inference (`xdub.pipeline`, `xdub dub`). Imports: stdlib + xdub.config/errors.

Two concerns, two dataclasses:
- `InferConfig`: how ONE run behaves (timeline/length policy, sampling, chunking, face choice,
  device). YAML instances live in `configs/infer/`; CLI flags override single fields.
- `DubberConfig`: what a dubbing CHECKPOINT folder is (`dubber.json` beside `dit/` and
  `codec/`): the audio features, face crop geometry, noise process and chunking defaults the
  models were trained with. It travels with the weights, never with a run config, so a
  checkpoint always runs with the preprocessing it was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from xdub.config.audio import AUDIO_PRESETS, AudioConfig
from xdub.config.diffusion import DIFFUSION_PRESETS, DiffusionConfig
from xdub.config.face import FACE_PRESETS, AlignConfig, FaceConfig
from xdub.config.landmarks import LandmarkRefineConfig
from xdub.errors import ConfigError

LengthMode = Literal["audio", "video", "shortest"]
ExtendMode = Literal["loop", "pingpong", "freeze"]
TailMode = Literal["trim", "keep"]
NoFacePolicy = Literal["error", "passthrough"]
DTypeName = Literal["auto", "float32", "bfloat16", "float16"]

# `--fast` (`SamplingConfig.fast`): the fewer-evaluations setting with the best measured
# trade-off (docs/design.md "Fast preset"), relative to the checkpoint's own step count.
FAST_STEP_FRACTION = 0.75  # of the checkpoint's steps, rounded up (8 -> 6, official 50 -> 38):
#   25% fewer evaluations for lip corr. -0.03 / leak +0.05; half the steps or guidance reuse
#   changed the dub more per evaluation saved
FAST_GUIDANCE_REUSE_FROM = 1.0  # guidance reuse off (1 = never)


@dataclass(frozen=True, slots=True)
class TimelineConfig:
    """Output duration policy and the optional re-dub time range (seconds of the input video)."""

    length: LengthMode = "audio"  # output lasts as long as the new audio / the video / the shorter
    extend: ExtendMode = "pingpong"  # video shorter than needed: loop, play back and forth, or
    #   hold the last frame; pingpong never jumps, so it is the safest default
    tail: TailMode = "trim"  # --length audio with a longer video: cut it at the audio's end, or
    #   keep the rest with its original lips and silence
    start: float = 0.0  # > 0 (or `end` set) = range mode: only [start, end) is re-dubbed, the new
    #   audio is placed at `start`, everything else (frames and audio) stays as it was
    end: float | None = None  # end of the range; None = start + the new audio's length

    def __post_init__(self) -> None:
        if self.start < 0:
            raise ConfigError(f"timeline.start must be >= 0 s, got {self.start}")
        if self.end is not None and self.end <= self.start:
            raise ConfigError(f"timeline.end ({self.end} s) must be after start ({self.start} s)")

    @property
    def range_mode(self) -> bool:
        """True when only a time range of the video is re-dubbed."""
        return self.start > 0 or self.end is not None


@dataclass(frozen=True, slots=True)
class SamplingConfig:
    """Diffusion sampling and chunking; None = the checkpoint's own default."""

    steps: int | None = None  # Euler steps; official 50, 20 previews, 1-4 smoke tests
    ref_scale: float | None = None  # reference guidance; official 2.5
    audio_scale: float | None = None  # audio guidance; official 10
    seed: int = 0  # one torch.Generator per run: same seed + inputs -> same output
    chunk_frames: int | None = None  # video frames per generated chunk (memory ~ chunk length)
    overlap: int | None = None  # frames shared by consecutive chunks: motion frames + cross-fade
    guidance_reuse_from: float | None = None  # reuse the guidance correction on every other
    #   step from this fraction of the steps on (1 = never); None = the checkpoint's
    fast: bool = False  # 25% fewer DiT evaluations: FAST_STEP_FRACTION of the checkpoint's steps
    denoise_strength: float | None = None  # start from the (prior-rewritten) source noised to
    #   this level instead of pure noise (`DiffusionConfig.denoise_strength`); None = the
    #   checkpoint's
    keep_occluders: bool = True  # keep the input's pixels under hands and objects where the
    #   checkpoint has an occluder segmenter (`OccluderKeepConfig`), and leave them out of a
    #   lip prior's chunk mean; False = the editor's pixels everywhere
    step_cache_threshold: float = 0.0  # first-block step cache: a stream whose first DiT block
    #   changed less than this (relative) since its last full step reuses the other blocks'
    #   residual (`xdub.models.step_cache`); 0 = off

    def __post_init__(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise ConfigError(f"sampling.steps must be >= 1, got {self.steps}")
        reuse = self.guidance_reuse_from
        if reuse is not None and not 0.0 <= reuse <= 1.0:
            raise ConfigError(f"sampling.guidance_reuse_from must be in [0, 1], got {reuse}")
        if self.fast and (self.steps is not None or reuse is not None):
            raise ConfigError("fast (--fast) sets the steps and guidance reuse itself: drop "
                              "fast or steps (--steps) / guidance_reuse_from")
        strength = self.denoise_strength
        if strength is not None and not 0.0 < strength <= 1.0:
            raise ConfigError(f"sampling.denoise_strength must be in (0, 1], got {strength}")
        if self.step_cache_threshold < 0:
            raise ConfigError("sampling.step_cache_threshold must be >= 0, got "
                              f"{self.step_cache_threshold}")
        if self.chunk_frames is not None and self.chunk_frames < 1:
            raise ConfigError(f"sampling.chunk_frames must be >= 1, got {self.chunk_frames}")
        if self.overlap is not None and self.overlap < 0:
            raise ConfigError(f"sampling.overlap must be >= 0, got {self.overlap}")
        both = self.chunk_frames is not None and self.overlap is not None
        if both and self.overlap * 2 > self.chunk_frames:  # type: ignore[operator]
            raise ConfigError(
                f"overlap ({self.overlap}) must be at most half of chunk_frames "
                f"({self.chunk_frames}) so a frame is shared by at most two chunks"
            )


@dataclass(frozen=True, slots=True)
class InferConfig:
    """Everything one `xdub dub` run decides (the checkpoint decides the rest)."""

    timeline: TimelineConfig = field(default_factory=TimelineConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    face: str = "longest"  # track index N, "longest" (most frames) or "largest"
    no_face: NoFacePolicy = "error"  # no face anywhere: fail (exit 4) or copy the video through
    detector: str | None = None  # face detector backend; None = the checkpoint's (mediapipe)
    refine_landmarks: bool = True  # move the detector's landmarks with the checkpoint's landmark
    #   refiner where it has one (`LandmarkRefineConfig`); False = the detector's as they are
    detect_max_side: int = 1920  # frames larger than this are downscaled for detection only
    #   (4K: half size; BlazeFace works at 128 px anyway), paste-back stays full resolution
    device: str = "auto"  # "auto" = the available accelerator, else "cpu"
    dtype: DTypeName = "auto"  # "auto" = bfloat16 on an accelerator, float32 on CPU

    def __post_init__(self) -> None:
        if self.detect_max_side < 64:
            raise ConfigError(f"detect_max_side must be >= 64 px, got {self.detect_max_side}")


@dataclass(frozen=True, slots=True)
class KeepConfig:
    """Keep the input's own pixels where the editor left the crop alone (issue #12).

    The change is |decoded output - decoded source latents| (max over RGB, blurred by `blur`
    px): the codec's error cancels, so it measures what the editor changed, not what the codec
    loses. Below `low` grey levels the input pixel is kept exactly, above `high` the output's,
    smoothstep between. Untouched skin, occluders and real texture then keep the input's
    sharpness. `low` = 0 turns it off (the output as decoded).
    """

    low: float = 0.0
    high: float = 12.0
    blur: float = 1.0

    def __post_init__(self) -> None:
        if self.low < 0 or (self.low > 0 and self.high <= self.low) or self.blur < 0:
            raise ConfigError("keep: need 0 <= low < high and blur >= 0 (low = 0: off)")

    @property
    def enabled(self) -> bool:
        return self.low > 0


@dataclass(frozen=True, slots=True)
class OccluderKeepConfig:
    """Keep the input's pixels where something covers the face (issue #12, occluders).

    The checkpoint's occluder segmenter (`occluders/`, `xdub.models.occluder_net`) gives each
    crop pixel a probability of being covered by a hand, microphone or object; the map is grown
    by `grow` px (its edges are soft, a drawn mouth must not show around a finger), then the
    input's pixel is kept above `high`, the editor's below `low`, smoothstep between.
    `enabled` = False (or a checkpoint without the segmenter): the editor's pixels everywhere.
    """

    enabled: bool = False
    low: float = 0.3
    high: float = 0.6
    grow: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.low < self.high <= 1.0 or self.grow < 0:
            raise ConfigError("occluders: need 0 <= low < high <= 1 and grow >= 0")


@dataclass(frozen=True, slots=True)
class DubberConfig:
    """Self-description of a dubbing checkpoint folder (`dubber.json`)."""

    name: str = "tiny"  # label shown in summaries
    codec: Literal["tiny", "wan22"] = "tiny"  # which codec class rebuilds `codec/`
    audio: AudioConfig = field(default_factory=lambda: AUDIO_PRESETS["tiny"])
    face: FaceConfig = field(default_factory=lambda: FACE_PRESETS["tiny"])
    diffusion: DiffusionConfig = field(default_factory=lambda: DIFFUSION_PRESETS["tiny"])
    chunk_frames: int = 16  # default chunk length in video frames (official: 77)
    overlap: int = 4  # default frames shared by consecutive chunks (>= motion_frames)
    motion_frames: int = 1  # video frames of the previous chunk given as clean motion latents
    #   (0 = the model was not trained with motion; official: 5 frames = 2 Wan latents)
    ref_frames: int = 0  # identity reference crops per chunk (official model: 0)
    experts: tuple[tuple[str, str], ...] = ()  # (phase, LoRA file in the folder) pairs
    keep: KeepConfig = field(default_factory=KeepConfig)  # input pixels the editor left alone
    occluders: OccluderKeepConfig = field(default_factory=OccluderKeepConfig)  # input pixels
    #   under hands / objects (needs the folder's occluders/ segmenter when enabled)
    landmarks: LandmarkRefineConfig = field(default_factory=LandmarkRefineConfig)  # detector
    #   landmarks moved to where training placed them (needs the folder's landmarks/ refiner
    #   when enabled; xdub.config.landmarks)
    prior_gate_power: float = 1.0  # a lip-prior editor's gate raised to this power when it
    #   dubs (< 1 opens it: more of the audio-driven guess, less of the old lips; 1 = as trained;
    #   xdub.models.lip_prior). No effect on editors without a prior.
    prior_chunk_trim: float = 0.0  # what a lip prior's guess starts from: the chunk's mean frame
    #   (0, as trained), per latent without the highest and lowest `trim` share of the frames;
    #   0.5 = the median, in which an object crossing the face in under half of the frames
    #   leaves no ghost (design 3.1 session 16)

    def __post_init__(self) -> None:
        if self.prior_gate_power <= 0:
            raise ConfigError("dubber: prior_gate_power must be > 0")
        if not 0.0 <= self.prior_chunk_trim <= 0.5:
            raise ConfigError("dubber: prior_chunk_trim must be in [0, 0.5]")
        if self.motion_frames > self.overlap:
            raise ConfigError(
                f"dubber: overlap ({self.overlap}) must be >= motion_frames ({self.motion_frames})"
            )
        if self.overlap * 2 > self.chunk_frames:
            raise ConfigError("dubber: overlap must be at most half of chunk_frames")

    @property
    def crop_size(self) -> int:
        """Side of the square face crop the model sees."""
        return self.face.align.crop_size


DUBBER_PRESETS: dict[str, DubberConfig] = {
    # Random-init / CPU-scale dubber: 64 px crops (the tiny codec's training size), log-mel audio.
    "tiny": DubberConfig(
        face=FaceConfig(align=AlignConfig(crop_size=64)),
    ),
    # The official X-Dub release: 512 px crops, Wan2.2 VAE, Whisper + wav2vec2, 77-frame chunks
    # with 5 motion frames (2 Wan latents), official sampler defaults.
    "wan5b": DubberConfig(
        name="x-dub-wan5b",
        codec="wan22",
        audio=AUDIO_PRESETS["full"],
        face=FACE_PRESETS["wan5b"],
        diffusion=DIFFUSION_PRESETS["wan5b"],
        chunk_frames=77,
        overlap=13,
        motion_frames=5,
    ),
}
