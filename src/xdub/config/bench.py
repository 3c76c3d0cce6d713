"""Config of the synthetic dubbing benchmark (`xdub.bench`, `xdub bench`). Stdlib only.

Seeds are held out and versioned: clip j of scenario s uses
`seed_start + SCENARIO_SLOTS.index(s) * SEEDS_PER_SLOT + j`, so picking a subset of scenarios
or more clips never changes the seeds of the others, and training must stay below
`HELDOUT_SEED_START`. Bump `BENCH_VERSION` whenever a manifest rule, a render setting or a
metric definition changes: results are comparable across commits iff their `manifest_id`
(which hashes BENCH_VERSION, the synth ENGINE_VERSION and every entry) agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdub.config.synth import SCENARIOS
from xdub.errors import ConfigError

BENCH_VERSION = "1"  # bump on any change to manifest rules or metric definitions
HELDOUT_SEED_START = 1_000_000  # seeds >= this are never used for training
SEEDS_PER_SLOT = 10_000  # seeds reserved per scenario
# Seed slot of each scenario. APPEND ONLY: reordering changes every seed of the benchmark.
SCENARIO_SLOTS = (
    "standard",
    "occlusion",
    "stylized",
    "nonhuman",
    "lighting",
    "fast_motion",
    "long",
    "singing",
    "mixed",
)


@dataclass(frozen=True, slots=True)
class RegionConfig:
    """How the per-frame evaluation regions are cut from the ground truth (fractions of the
    clip's median face-box height, so they mean the same thing at any resolution)."""

    mouth_dilate: float = 0.05  # grow the speech-free mouth zone by this; 0 .. 0.2
    outside_margin: float = 0.10  # band around the dilated mouth left out of "outside"; 0 .. 0.4
    max_occlusion: float = 0.2  # frames whose mouth zone is hidden more than this are skipped
    # by the mouth-opening correlation (an occluded mouth has no visible opening); 0 .. 1

    def __post_init__(self) -> None:
        if not 0 <= self.mouth_dilate <= 1 or not 0 <= self.outside_margin <= 1:
            raise ConfigError("regions: mouth_dilate and outside_margin must be within 0 .. 1")
        if not 0 <= self.max_occlusion <= 1:
            raise ConfigError("regions.max_occlusion must be within 0 .. 1")


@dataclass(frozen=True, slots=True)
class MetricConfig:
    """Optional metric backends; empty strings switch a metric off (reported as n/a)."""

    psnr_max_db: float = 100.0  # identical regions score this instead of +inf
    sync_scorer: str = "auto"  # "auto" = shipped tiny scorer if installed, "none", or a folder
    identity_model: str = ""  # "pkg.module:factory" returning an IdentityModel; "" = skip
    fid_weights: str = ""  # path to FID feature-network weights (needs a registered backend)
    fvd_weights: str = ""  # path to FVD (I3D) weights
    lpips_weights: str = ""  # path to LPIPS weights


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """Which clips to render, which methods to run, and how to score them."""

    scenarios: tuple[str, ...] = SCENARIO_SLOTS  # every scenario, in slot order
    clips: int = 4  # clips per scenario; 4 .. 32 (std over clips needs >= 2)
    seed_start: int = HELDOUT_SEED_START  # first held-out seed; >= HELDOUT_SEED_START
    size: tuple[int, int] = (256, 256)  # (width, height) rendered
    fps: float = 25.0  # the sync scorer and most dubbing models expect 25
    duration: float = 4.0  # seconds per clip (every scenario unless overridden below)
    duration_overrides: dict[str, float] = field(default_factory=lambda: {"long": 20.0})
    methods: tuple[str, ...] = ("copy_input", "oracle")  # registry names or "pkg.mod:factory"
    checkpoints: tuple[str, ...] = ()  # DubPipeline folders, each a method ("NAME=DIR" allowed)
    codec: str = ""  # codec for `codec_ceiling`: a checkpoint folder or a CodecConfig YAML
    seam_every: int = 0  # chunk length (frames) assumed for methods that don't report their
    # chunk starts; 0 = seam index only for methods that do
    strip_frames: int = 4  # frames per before/after strip in the report; 0 = no strips
    regions: RegionConfig = field(default_factory=RegionConfig)
    metrics: MetricConfig = field(default_factory=MetricConfig)

    def __post_init__(self) -> None:
        bad = [s for s in self.scenarios if s not in SCENARIO_SLOTS or s not in SCENARIOS]
        if bad or not self.scenarios:
            raise ConfigError(
                f"bench: unknown scenario(s) {bad}; choose from {list(SCENARIO_SLOTS)}"
            )
        if not 1 <= self.clips <= SEEDS_PER_SLOT:
            raise ConfigError(f"bench.clips must be within 1 .. {SEEDS_PER_SLOT}, got {self.clips}")
        if self.seed_start < HELDOUT_SEED_START:
            raise ConfigError(
                f"bench.seed_start must be >= {HELDOUT_SEED_START} (held-out seeds), "
                f"got {self.seed_start}"
            )
        if self.duration <= 0 or any(v <= 0 for v in self.duration_overrides.values()):
            raise ConfigError("bench: durations must be > 0 seconds")
        if not self.methods and not self.checkpoints:
            raise ConfigError("bench: no methods to run; give methods or checkpoints")

    def duration_of(self, scenario: str) -> float:
        """Seconds per clip of `scenario`."""
        return float(self.duration_overrides.get(scenario, self.duration))

    def seed_of(self, scenario: str, index: int) -> int:
        """Held-out seed of clip `index` of `scenario`."""
        return self.seed_start + SCENARIO_SLOTS.index(scenario) * SEEDS_PER_SLOT + index


BENCH_PRESETS: dict[str, BenchConfig] = {
    "default": BenchConfig(),
    # A CI-sized run: one short clip of each fast scenario at low resolution.
    "smoke": BenchConfig(
        scenarios=("standard", "occlusion"), clips=1, size=(128, 128), duration=1.0, strip_frames=3
    ),
}
