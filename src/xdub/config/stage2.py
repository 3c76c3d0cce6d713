"""Configs of stage 2 (`xdub.train.stage2`): the mask-free editor and its multi-phase recipe.

`Stage2Config` shares `Stage1Config`'s field names and meanings for everything both stages use
(the stage-1 loss weights are not among them: stage 2's are in `objectives`), so a stage-2
YAML is `base: stage1_<preset>.yaml` plus only the keys that change (pairs folder,
init, source embedding, phase schedule). One dataclass per concern:
- `PhaseObjectiveConfig`: the phase-specific losses (mouth weight, sync, texture);
- `PhaseScheduleConfig`: how training is split over the structure / lip / texture phases
  (single-phase baseline, LoRA experts on a shared base, or sequential full-weight SFT);
- `Stage2Config`: everything else (models, data, loop), mirroring stage 1.
The phase boundaries themselves live in `DiffusionConfig` (`structure_lip_sigma`,
`lip_texture_sigma`), shared with sampling. `load_stage2` reads such a YAML strictly, except
that keys only stage 1 knows (inherited through `base:`, e.g. its outside-mask loss weight)
are dropped. Imports: stdlib, yaml + xdub.config + xdub.errors.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from xdub.config.audio import AUDIO_PRESETS, AudioConfig
from xdub.config.base import deep_merge, from_dict
from xdub.config.codec import CODEC_PRESETS, CodecConfig
from xdub.config.diffusion import DIFFUSION_PRESETS, DiffusionConfig
from xdub.config.face import AlignConfig, FaceConfig
from xdub.config.infer import KeepConfig
from xdub.config.model import MODEL_PRESETS, DiTConfig, LipPriorConfig
from xdub.config.train import DataConfig, LoopConfig, Stage1Config
from xdub.errors import ConfigError

PhaseMode = Literal["single", "lora", "sequential"]


@dataclass(frozen=True, slots=True)
class PhaseObjectiveConfig:
    """Phase-specific losses; each term applies to the samples whose sigma lies in its phase."""

    mouth_weight: float = 3.0  # lip phase: velocity-loss weight inside the mouth region (1 = off)
    structure_mouth_weight: float = 1.0  # the same weight in the structure phase (high noise),
    #   where the lip shape is decided; with an x0 loss a large one makes the editor use the
    #   audio (issue #12, session 6: audio_reliance gap 5-10% vs 1-2%)
    flow_weighting: Literal["velocity", "x0"] = "velocity"  # x0: the velocity MSE times sigma^2,
    #   i.e. the error of x0 = x_t - sigma v (the residual editor's output space), so the low-
    #   sigma texture band no longer dominates the loss
    sync_weight: float = 0.05  # lip phase: scorer sync loss on decoded x0 predictions; 0 = off
    #   (small: the flow loss stays the main signal; 0.01 .. 0.2)
    texture_weight: float = 0.5  # texture phase: Laplacian-pyramid L1 on decoded x0; 0 = off
    texture_levels: int = 3  # band-pass levels of that pyramid (64 px crops: 2 .. 4)
    texture_frames: int = 3  # frames per sample decoded for it (cost; evenly spaced)
    sync_box: tuple[float, ...] = ()  # scorer mouth crop on the aligned crop as fractions
    #   of its side (centre x, centre y, width); () = from the mean face shape. Measure it on
    #   your data (median crop-space lip centre, 0.65 x jaw width) when faces differ from it
    baseline_mouth_weight: float = 3.0  # "single" mode: the stage-1 style constant mouth
    #   weight at every sigma (no sync/texture terms): the ablation's baseline objective

    def __post_init__(self) -> None:
        if min(self.mouth_weight, self.structure_mouth_weight, self.baseline_mouth_weight) < 0:
            raise ConfigError("stage2.objectives: mouth weights must be >= 0")
        if min(self.sync_weight, self.texture_weight) < 0 or self.texture_levels < 1:
            raise ConfigError("stage2.objectives: weights >= 0 and texture_levels >= 1")
        if self.sync_box and len(self.sync_box) != 3:
            raise ConfigError("stage2.objectives.sync_box: (centre x, centre y, width) or ()")
        if self.texture_frames < 1:
            raise ConfigError("stage2.objectives: texture_frames >= 1")


@dataclass(frozen=True, slots=True)
class PhaseScheduleConfig:
    """How the optimiser steps (`loop.steps`, the total budget) are spent over the phases."""

    mode: PhaseMode = "lora"  # "single": one model, all sigmas, baseline objective (ablation);
    #   "lora": shared base on all sigmas, then one LoRA expert per phase (X-Dub paper);
    #   "sequential": full-weight SFT on one phase after another (the public release's recipe)
    base_fraction: float = 0.5  # "lora": share of the steps spent on the shared base
    phase_shares: tuple[float, float, float] = (1.0, 1.0, 1.0)  # structure, lip, texture:
    #   relative steps per phase (experts / sequential sub-runs)
    focus: float = 0.8  # "sequential": share of a phase's samples drawn inside its sigma range
    #   (the rest over all sigmas, so later phases do not forget earlier ones); experts use 1.0
    lora_rank: int = 8  # rank of each phase expert (tiny DiT dim 128: 4 .. 16; wan5b: 32 .. 128)
    lora_alpha: float | None = None  # LoRA scale numerator; None = rank (scale 1)
    expert_lr_scale: float = 2.0  # LoRA experts train at loop.lr times this (few parameters)

    def __post_init__(self) -> None:
        if not 0.0 <= self.base_fraction < 1.0 or not 0.0 < self.focus <= 1.0:
            raise ConfigError("stage2.phases: base_fraction in [0, 1), focus in (0, 1]")
        if min(self.phase_shares) < 0 or sum(self.phase_shares) <= 0:
            raise ConfigError("stage2.phases: phase_shares must be >= 0 with a positive sum")
        if self.lora_rank < 1 or self.expert_lr_scale <= 0:
            raise ConfigError("stage2.phases: lora_rank >= 1 and expert_lr_scale > 0")


@dataclass(frozen=True, slots=True)
class Stage2Config:
    """Mask-free editing DiT trained on pseudo-pairs (X-Dub stage 2)."""

    # --- shared with stage 1 (same meaning; a stage-2 YAML inherits them via `base:`) ---------
    model: DiTConfig = field(default_factory=lambda: MODEL_PRESETS["tiny"])  # cond_channels:
    #   None = the source shares the patch embedding (official layout); = latent channels: an
    #   own source embedding, initialised from the inpainter's masked-latent channels
    source_fusion: Literal["in_context", "aligned_add", "aligned_residual"] = "in_context"
    #   aligned_add (as stage 1): the source also added to the aligned target tokens
    #   (xdub.models.fusion); aligned_residual: that, and the output is x0 - source (an
    #   untouched region is copied exactly; tiny editors)
    keep: KeepConfig = field(default_factory=KeepConfig)  # written to the exported dubber.json:
    #   dubbing keeps the input's pixels where the editor changed nothing (config.infer)
    prior_gate_power: float = 1.0  # written to the exported dubber.json: the lip prior's
    #   gate ** this when dubbing (< 1: less of the old lips; config.infer.DubberConfig)
    prior_chunk_trim: float = 0.0  # written to the exported dubber.json: the share of highest
    #   and lowest frames the prior's chunk mean leaves out when dubbing (config.infer)
    lip_prior: LipPriorConfig = field(default_factory=LipPriorConfig)  # audio -> mouth
    #   regressor rewriting the source's mouth before the DiT (xdub.models.lip_prior; tiny
    #   editors; needs an aligned source_fusion)
    init_from: str = ""  # stage-1 DiT folder (save_pretrained); "" = fresh init (tests)
    codec: CodecConfig = field(default_factory=lambda: CODEC_PRESETS["tiny"])
    codec_weights: str = "package"  # "package", a codec folder, or "random" (tests only)
    audio: AudioConfig = field(default_factory=lambda: AUDIO_PRESETS["tiny"])
    face: FaceConfig = field(default_factory=lambda: FaceConfig(align=AlignConfig(crop_size=64)))
    diffusion: DiffusionConfig = field(default_factory=lambda: DIFFUSION_PRESETS["tiny"])
    data: DataConfig = field(default_factory=DataConfig)  # window_frames / ref_frames /
    #   ref_min_gap / windows_per_clip are used; the clip source is replaced by `pairs`
    loop: LoopConfig = field(default_factory=LoopConfig)
    motion_frames: int = 1  # latent frames that may be given clean (the previous chunk)
    p_motion: float = 0.5  # share of samples trained with those motion frames
    cache_latents: bool = True  # per-frame codecs: encode each pair's clips once (cached)
    #   instead of every window in the training step; same result, less compute
    pair_cache_gib: float = 6.0  # decoded pairs (+ latents) kept in memory; past it the oldest
    #   are reloaded from disk (re-encoded): ~3.5 MB a 2 s tiny pair, so 6 GiB holds ~1,750
    sample_clips: int = 2  # held-out pairs in the periodic sample grids/videos
    sample_steps: int = 8  # Euler steps for those samples
    # --- stage 2 only -------------------------------------------------------------------------
    pairs: str = ""  # pair folder written by `xdub make-pairs` (accepted pairs are used)
    scorer_weights: str = "package"  # sync scorer for the lip-phase loss: "package", a
    #   folder, "random" (tests) or "" (no sync loss)
    objectives: PhaseObjectiveConfig = field(default_factory=PhaseObjectiveConfig)
    phases: PhaseScheduleConfig = field(default_factory=PhaseScheduleConfig)
    mouth_swap: float = 0.0  # share of samples whose source mouth is the real clip's own mouth
    #   from >= mouth_swap_gap frames away (sharp, real, wrong lips: copying them never pays;
    #   xdub.train.pair_windows.swap_mouths); 0 = off
    mouth_swap_gap: int = 8  # frames (8 at 25 fps = 0.32 s, about two syllables)
    occluder_paste: float = 0.0  # share of samples with a still rectangle of another pair
    #   pasted over the mouth of source and target alike (keep what covers the mouth); 0 = off
    occluder_paste_real: float = 0.0  # of those pastes, the share that paste a stored real
    #   occluder instead (a hand, microphone or cup of another pair, moving, with its own mask:
    #   pairs' `occluders` array, synthetic sources); the rectangle when the store has none
    chunk_frames: int = 0  # exported dubber's chunk length; 0 = data.window_frames
    chunk_overlap: int = 2  # exported dubber's overlap between chunks (>= motion frames)

    def __post_init__(self) -> None:
        if self.motion_frames < 0 or not 0.0 <= self.p_motion <= 1.0:
            raise ConfigError("stage2: motion_frames >= 0, p_motion in [0, 1]")
        if self.model.audio_dim is None:
            raise ConfigError("stage2: the editor needs an audio branch (model.audio_dim)")
        cond = self.model.cond_channels
        if cond is not None and cond != self.model.latent_channels:
            raise ConfigError("stage2: model.cond_channels must be null or latent_channels "
                              "(the editor's source is the unmasked clip)")
        if not (0.0 <= self.occluder_paste <= 1.0 and 0.0 <= self.occluder_paste_real <= 1.0):
            raise ConfigError("stage2: occluder_paste and occluder_paste_real in [0, 1]")
        if not 0.0 <= self.mouth_swap <= 1.0 or self.mouth_swap_gap < 1:
            raise ConfigError("stage2: mouth_swap in [0, 1], mouth_swap_gap >= 1")
        if self.lip_prior.enabled and self.source_fusion == "in_context":
            raise ConfigError("stage2: lip_prior needs source_fusion aligned_add or "
                              "aligned_residual")
        if self.chunk_overlap < 0:
            raise ConfigError("stage2: chunk_overlap must be >= 0")
        if self.pair_cache_gib <= 0:
            raise ConfigError("stage2: pair_cache_gib must be > 0")


def _merged_mapping(path: Path) -> dict[str, Any]:
    """A YAML file with its `base:` chain merged (later files override)."""
    import yaml

    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at top level")
    base = data.pop("base", None)
    return deep_merge(_merged_mapping((path.parent / base).resolve()), data) if base else data


def load_stage2(path: str | Path) -> Stage2Config:
    """`Stage2Config` from a YAML (usually `base: stage1_<preset>.yaml` + overrides).

    Unknown keys raise, except top-level keys that `Stage1Config` defines and stage 2 does
    not use: a stage-1 recipe change must not break every stage-2 config built on it.
    """
    data = _merged_mapping(Path(path))
    own = {f.name for f in dataclasses.fields(Stage2Config)}
    stage1_only = {f.name for f in dataclasses.fields(Stage1Config)} - own
    return from_dict(Stage2Config, {k: v for k, v in data.items() if k not in stage1_only},
                     where=str(path))
