"""Config of the procedural talking-character renderer (`xdub.synth`). Imports: stdlib only.

`SynthConfig` holds one sub-config per concern (character, motion, lighting, occlusion) plus
the clip geometry; `SCENARIOS` names frozen instances (X-DubBench style), selectable with
`xdub synth --scenario NAME`. Every `(lo, hi)` pair is a uniform range drawn once per clip.
Distances are fractions of the frame's shorter side so a scenario means the same thing at any
size; times are seconds so it means the same thing at any fps.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from xdub.errors import ConfigError

KINDS = ("human", "animal", "reptile", "alien")  # species families a character is drawn from
STYLES = ("flat", "shaded", "textured", "lineart")  # render styles of the head sprite
OCCLUDERS = ("hand", "microphone", "object")  # things that cross the lower face


@dataclass(frozen=True, slots=True)
class CharacterConfig:
    """Which characters a clip may show (species, styles, colours, accessories)."""

    kinds: tuple[str, ...] = ("human",)  # subset of KINDS, drawn uniformly
    styles: tuple[str, ...] = ("flat", "shaded", "textured")  # subset of STYLES
    unnatural_skin_prob: float = 0.0  # humans with blue/green/purple skin; 0 .. 1
    hair_prob: float = 0.85  # chance of hair (humans) or a head crest/tuft (others)
    hat_prob: float = 0.2  # chance of a hat, drawn over hair
    face_fraction: tuple[float, float] = (0.35, 0.55)  # face-box height / frame short side

    def __post_init__(self) -> None:
        _check_subset("character.kinds", self.kinds, KINDS)
        _check_subset("character.styles", self.styles, STYLES)
        _check_range("character.face_fraction", self.face_fraction, 0.05, 0.95)


@dataclass(frozen=True, slots=True)
class MotionConfig:
    """Head motion: a smooth random walk of translation, roll, scale and fake yaw/pitch."""

    translate: float = 0.035  # typical offset of the face centre, fraction of short side
    roll_deg: float = 4.0  # typical in-plane rotation; 2 .. 25
    scale: float = 0.04  # typical relative zoom (leaning in/out); 0 .. 0.3
    squash: float = 0.04  # typical fake yaw/pitch as horizontal/vertical squash; 0 .. 0.2
    keyframe_s: float = 0.9  # spacing of random-walk keyframes; smaller = faster motion
    jerk_rate: float = 0.0  # sudden head turns per second (fast-motion mode)
    jerk_size: float = 2.5  # a jerk's size in multiples of the typical amplitudes

    def __post_init__(self) -> None:
        if self.keyframe_s <= 0:
            raise ConfigError(f"motion.keyframe_s must be > 0, got {self.keyframe_s}")


@dataclass(frozen=True, slots=True)
class LightingConfig:
    """Scene lighting: global brightness, colour temperature and a directional gradient."""

    brightness: tuple[float, float] = (0.9, 1.08)  # base gain per clip
    brightness_var: float = 0.03  # typical change over time (relative); 0 = constant
    temperature: tuple[float, float] = (-0.25, 0.25)  # -1 warm (tungsten) .. +1 cool (shade)
    temperature_var: float = 0.0  # typical drift of temperature over time
    directional: tuple[float, float] = (0.0, 0.15)  # strength of the left/right shading ramp
    light_speed_deg: float = 0.0  # typical rotation of the light direction per second
    keyframe_s: float = 1.2  # spacing of lighting keyframes
    switch_rate: float = 0.0  # abrupt light switches per second (a lamp turned on/off)


@dataclass(frozen=True, slots=True)
class OcclusionConfig:
    """Objects crossing the lower face (hands, microphones, cups/phones)."""

    rate: float = 0.0  # occluder events per second; 0 disables occlusion
    min_events: int = 0  # at least this many events per clip (when rate > 0)
    kinds: tuple[str, ...] = OCCLUDERS  # subset of OCCLUDERS
    duration_s: tuple[float, float] = (0.6, 1.8)  # how long one event lasts on screen
    hold_prob: float = 0.4  # chance the object stops over the mouth instead of sweeping past

    def __post_init__(self) -> None:
        _check_subset("occlusion.kinds", self.kinds, OCCLUDERS)


@dataclass(frozen=True, slots=True)
class SynthConfig:
    """One scenario: clip geometry, speech preset and the per-concern sub-configs."""

    scenario: str = "standard"  # name recorded in clip metadata
    size: tuple[int, int] = (256, 256)  # (width, height) in pixels; non-square allowed
    fps: float = 25.0  # any positive float, e.g. 29.97
    duration: float = 4.0  # seconds per clip
    speech_preset: str = "speech"  # key of xdub.config.synth_speech.SPEECH_PRESETS
    character: CharacterConfig = field(default_factory=CharacterConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    lighting: LightingConfig = field(default_factory=LightingConfig)
    occlusion: OcclusionConfig = field(default_factory=OcclusionConfig)
    mixed_pool: tuple[str, ...] = ()  # non-empty: each clip uses a random scenario from here

    def __post_init__(self) -> None:
        w, h = self.size
        if w < 32 or h < 32 or w > 8192 or h > 8192:
            raise ConfigError(f"size must be within 32..8192 pixels per side, got {w}x{h}")
        if self.fps <= 0:
            raise ConfigError(f"fps must be > 0, got {self.fps}")
        if self.duration <= 0:
            raise ConfigError(f"duration must be > 0 seconds, got {self.duration}")

    @property
    def num_frames(self) -> int:
        """Frames in one clip: round(duration * fps), at least 1."""
        return max(1, round(self.duration * self.fps))


def _check_subset(where: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    if not values:
        raise ConfigError(f"{where} must not be empty; choose from {list(allowed)}")
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ConfigError(f"{where}: unknown {bad}; choose from {list(allowed)}")


def _check_range(where: str, pair: tuple[float, float], lo: float, hi: float) -> None:
    if not lo <= pair[0] <= pair[1] <= hi:
        raise ConfigError(f"{where} must be an increasing pair within [{lo}, {hi}], got {pair}")


# ---------------------------------------------------------------------------------------------
# Scenario registry
# ---------------------------------------------------------------------------------------------

_STANDARD = SynthConfig()

SCENARIOS: dict[str, SynthConfig] = {
    # Frontal-ish human talking heads, gentle motion, steady light, nothing in front of the face.
    "standard": _STANDARD,
    # Hands, microphones and objects cross or rest on the lower face (>= 1 event per clip).
    "occlusion": replace(
        _STANDARD,
        scenario="occlusion",
        occlusion=OcclusionConfig(rate=0.35, min_events=1),
    ),
    # Cartoon renderings of humans: flat, line-art, unnatural skin, more hats.
    "stylized": replace(
        _STANDARD,
        scenario="stylized",
        character=CharacterConfig(
            styles=("flat", "lineart", "shaded"), unnatural_skin_prob=0.4, hat_prob=0.4
        ),
    ),
    # Animals with muzzles/ears/fur, reptiles with scales, aliens; every style.
    "nonhuman": replace(
        _STANDARD,
        scenario="nonhuman",
        character=CharacterConfig(kinds=("animal", "reptile", "alien"), styles=STYLES),
    ),
    # Brightness, colour temperature and a moving directional light change over the clip.
    "lighting": replace(
        _STANDARD,
        scenario="lighting",
        lighting=LightingConfig(
            brightness=(0.7, 1.15),
            brightness_var=0.25,
            temperature=(-0.7, 0.7),
            temperature_var=0.35,
            directional=(0.15, 0.45),
            light_speed_deg=50.0,
            keyframe_s=0.8,
            switch_rate=0.15,
        ),
    ),
    # Quick, large head motion with sudden turns (tests temporal consistency of the crop).
    "fast_motion": replace(
        _STANDARD,
        scenario="fast_motion",
        motion=MotionConfig(
            translate=0.09, roll_deg=12.0, scale=0.1, squash=0.1, keyframe_s=0.3, jerk_rate=0.6
        ),
    ),
    # One minute and more: chunked inference, drift and long-range identity.
    "long": replace(_STANDARD, scenario="long", duration=64.0),
    # Sustained sung vowels with vibrato instead of conversational speech.
    "singing": replace(_STANDARD, scenario="singing", speech_preset="singing"),
}

SCENARIOS["mixed"] = replace(
    _STANDARD,
    scenario="mixed",
    mixed_pool=("standard", "occlusion", "stylized", "nonhuman", "lighting", "fast_motion",
                "singing"),
)
