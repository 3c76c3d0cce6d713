"""Public API of the talking-character engine: clips, pairs and clip streams, in memory.

    clip = render_clip(seed, cfg)            # frames + audio + per-frame ground truth
    a, b = render_pair(seed, cfg)            # same scene, two independent speech tracks
    for clip in iter_clips(cfg, num=100): ...

Randomness: `SeedSequence(seed)` yields stateless children 0 = scene, 1 = speech A,
2 = speech B, 3 = scenario pick (`mixed`). Everything but the mouth comes from the scene
stream, so dubbing `a.frames` with `b.audio` has the exact answer `b.frames`, and the
`render_pair(seed)[0]` is `render_clip(seed)` bit for bit. Bump ENGINE_VERSION whenever a
change alters the output of an existing seed. Imports: numpy, xdub.{config, types, errors},
sibling synth modules (torch only inside `clip_to_tensors`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xdub.config.synth import SynthConfig
from xdub.config.synth_speech import SPEECH_PRESETS
from xdub.synth.mouth import mouth_from_speech
from xdub.synth.render import FrameRenderer, FrameTruth
from xdub.synth.scenarios import resolve_scenario
from xdub.synth.scene import Scene, build_scene, child_seq
from xdub.synth.speech import make_speech
from xdub.synth.tracks import MouthTrack, Phone, SpeechTrack
from xdub.errors import ConfigError
from xdub.types import AUDIO_SAMPLE_RATE, Audio, Video

logger = logging.getLogger(__name__)

ENGINE_VERSION = "1.0.0"

_SCENE, _SPEECH_A, _SPEECH_B, _PICK = range(4)


@dataclass(frozen=True)
class ClipTruth:
    """Per-frame ground truth, every array with leading axis T (frames)."""

    mouth_params: np.ndarray  # [T, 5] float32, tracks.MOUTH_PARAMS
    landmarks: np.ndarray  # [T, 68, 2] float32 pixels, see face_parts (iBUG order)
    face_box: np.ndarray  # [T, 4] float32 (x0, y0, x1, y1) pixels
    mouth_mask: np.ndarray  # [T, H, W] bool, where the mouth may ever be (speech-free)
    occluder_mask: np.ndarray  # [T, H, W] bool
    lighting: np.ndarray  # [T, 6] float32, motion.LIGHTING_COLUMNS
    head_pose: np.ndarray  # [T, 6] float32, motion.POSE_COLUMNS
    head_affine: np.ndarray  # [T, 2, 3] float32, face units -> pixels
    blink: np.ndarray  # [T] float32, 0 open .. 1 closed


@dataclass(frozen=True)
class SynthClip:
    """One rendered clip: `frames: [T, H, W, 3]` uint8 RGB, 16 kHz audio, truth, metadata."""

    frames: np.ndarray
    audio: Audio
    truth: ClipTruth
    phones: tuple[Phone, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """Frame rate of the clip."""
        return float(self.meta["fps"])

    @property
    def video(self) -> Video:
        """The clip as an `xdub.types.Video` (frames + fps + audio)."""
        return Video(self.frames, self.fps, self.audio)


@dataclass(frozen=True)
class ClipPlan:
    """A clip ready to render frame by frame (lets exporters stream long clips)."""

    seed: int
    scene: Scene
    mouth: MouthTrack
    audio: Audio
    phones: tuple[Phone, ...]
    role: str  # "single", "a" or "b"
    preset: str  # the scenario asked for (e.g. "mixed"); scene.cfg.scenario is what was drawn

    def frames(self) -> Iterator[tuple[np.ndarray, FrameTruth]]:
        """Yield `(frame [H, W, 3] uint8, FrameTruth)` for every frame in order."""
        renderer = FrameRenderer(self.scene)
        for i in range(self.scene.num_frames):
            yield renderer.render(i, self.mouth.params[i])

    def meta(self) -> dict[str, Any]:
        """JSON-friendly description: scenario, seed, engine version, geometry, character."""
        scene, cfg = self.scene, self.scene.cfg
        spec = scene.spec
        return {
            "engine_version": ENGINE_VERSION, "seed": self.seed, "role": self.role,
            "scenario": cfg.scenario, "preset": self.preset, "fps": cfg.fps,
            "size": list(cfg.size), "num_frames": scene.num_frames,
            "duration": scene.num_frames / cfg.fps, "sample_rate": self.audio.sample_rate,
            "speech_preset": cfg.speech_preset, "background": scene.background_kind,
            "character": {"kind": spec.kind, "style": spec.style, "hair": spec.hair,
                          "hat": spec.hat, "ears": spec.ears, "texture": spec.texture},
            "face_px": scene.sprite.face_px,
            "occluders": [{"kind": e.kind, "variant": e.variant, "start": e.start,
                           "duration": e.duration, "hold": e.hold} for e in scene.occluders],
        }


def _speech_for(seq: np.random.SeedSequence, which: int, cfg: SynthConfig,
                duration: float) -> SpeechTrack:
    if cfg.speech_preset not in SPEECH_PRESETS:
        raise ConfigError(f"unknown speech_preset '{cfg.speech_preset}'; "
                          f"choose from {', '.join(SPEECH_PRESETS)}")
    rng = np.random.default_rng(child_seq(seq, which))
    return make_speech(rng, duration, SPEECH_PRESETS[cfg.speech_preset])


def _fit_audio(speech: SpeechTrack, num_samples: int) -> Audio:
    """Speech samples trimmed or zero-padded to exactly the clip length."""
    if speech.sample_rate != AUDIO_SAMPLE_RATE:
        raise ConfigError(f"speech must be {AUDIO_SAMPLE_RATE} Hz, got {speech.sample_rate}")
    out = np.zeros(num_samples, np.float32)
    n = min(num_samples, len(speech.samples))
    out[:n] = speech.samples[:n]
    return Audio(out, AUDIO_SAMPLE_RATE)


def _plan(seed: int, seq: np.random.SeedSequence, preset: SynthConfig, scene: Scene,
          speech: SpeechTrack, role: str, mouth: MouthTrack | None = None) -> ClipPlan:
    cfg = scene.cfg
    n = scene.num_frames
    audio = _fit_audio(speech, round(n / cfg.fps * AUDIO_SAMPLE_RATE))
    if mouth is None:
        mouth = mouth_from_speech(speech, cfg.fps, n)
    if mouth.params.shape != (n, 5):
        raise ConfigError(f"mouth track must be [{n}, 5], got {list(mouth.params.shape)}")
    return ClipPlan(seed, scene, mouth, audio, speech.phones, role, preset.scenario)


def plan_clips(seed: int, cfg: SynthConfig, pair: bool = False,
               speech: SpeechTrack | None = None,
               mouth: MouthTrack | None = None) -> list[ClipPlan]:
    """Prepare one clip (or an A/B pair) without rendering frames yet."""
    seq = np.random.SeedSequence(seed)
    resolved = resolve_scenario(cfg, np.random.default_rng(child_seq(seq, _PICK)))
    scene = build_scene(child_seq(seq, _SCENE), resolved)
    duration = scene.num_frames / resolved.fps
    if speech is None:
        speech = _speech_for(seq, _SPEECH_A, resolved, duration)
    plans = [_plan(seed, seq, cfg, scene, speech, "a" if pair else "single", mouth)]
    if pair:
        other = _speech_for(seq, _SPEECH_B, resolved, duration)
        plans.append(_plan(seed, seq, cfg, scene, other, "b"))
    return plans


def render_plan(plan: ClipPlan) -> SynthClip:
    """Render every frame of a plan into an in-memory `SynthClip`."""
    frames, truths = [], []
    for frame, truth in plan.frames():
        frames.append(frame)
        truths.append(truth)
    scene = plan.scene
    truth = ClipTruth(
        mouth_params=plan.mouth.params.astype(np.float32),
        landmarks=np.stack([t.landmarks for t in truths]),
        face_box=np.stack([t.face_box for t in truths]),
        mouth_mask=np.stack([t.mouth_mask for t in truths]),
        occluder_mask=np.stack([t.occluder_mask for t in truths]),
        lighting=scene.lighting, head_pose=scene.pose,
        head_affine=scene.affine.astype(np.float32),
        blink=scene.animation.blink.astype(np.float32),
    )
    return SynthClip(np.stack(frames), plan.audio, truth, plan.phones, plan.meta())


def render_clip(seed: int, cfg: SynthConfig, speech: SpeechTrack | None = None, *,
                mouth: MouthTrack | None = None) -> SynthClip:
    """Render clip `seed` of scenario `cfg` (speech from the seed unless `speech` is given).

    `mouth` overrides the mouth parameters derived from the speech (e.g. a hand-made track).
    """
    return render_plan(plan_clips(seed, cfg, speech=speech, mouth=mouth)[0])


def render_pair(seed: int, cfg: SynthConfig) -> tuple[SynthClip, SynthClip]:
    """Two clips of one scene with independent speech of equal length: (A, B)."""
    plan_a, plan_b = plan_clips(seed, cfg, pair=True)
    return render_plan(plan_a), render_plan(plan_b)


def iter_clips(cfg: SynthConfig, num: int | None = None, start_seed: int = 0,
               pairs: bool = False) -> Iterator[SynthClip | tuple[SynthClip, SynthClip]]:
    """Clips (or pairs) for seeds start_seed, start_seed + 1, ...; endless when `num` is None."""
    seed = start_seed
    while num is None or seed < start_seed + num:
        yield render_pair(seed, cfg) if pairs else render_clip(seed, cfg)
        seed += 1


def clip_to_tensors(clip: SynthClip) -> dict[str, Any]:
    """Torch view of a clip: frames `[T, 3, H, W]` float32 in [0, 1], audio `[N]`, truth arrays."""
    import torch  # local: the engine itself is torch-free

    out = {"frames": torch.from_numpy(clip.frames).permute(0, 3, 1, 2).float().div_(255.0),
           "audio": torch.from_numpy(clip.audio.samples.copy())}
    for name in ClipTruth.__dataclass_fields__:
        out[name] = torch.from_numpy(np.ascontiguousarray(getattr(clip.truth, name)))
    return out
