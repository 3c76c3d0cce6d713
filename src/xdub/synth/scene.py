"""Everything of a clip except the mouth: character, background, motion, lighting, occluders.

`build_scene(rng, cfg)` draws all of it from ONE RNG stream (the scene stream) and
pre-renders the static layers, so two renders with different speech share the scene exactly.
Each concern gets its own child stream, so e.g. a longer duration does not change the
character. Imports: numpy, sibling synth modules, xdub.config.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xdub.config.synth import SynthConfig
from xdub.synth.backdrop import Torso, composite, render_background, render_torso
from xdub.synth.character import CHIN_Y, FACE_BOX_H, CharacterSpec, sample_character
from xdub.synth.motion import FaceAnimation, face_animation, head_motion, lighting_track
from xdub.synth.occluders import OccluderEvent, sample_occluders
from xdub.synth.sprite import HeadSprite, build_sprite

_NECK_BASE_Y = CHIN_Y + 0.3  # torso neckline, face units below the face centre
_ROLL_PIVOT = CHIN_Y + 0.2  # head roll pivots on the neck, face units below the face centre


@dataclass(frozen=True)
class Scene:
    """A clip's speech-independent content, per-frame arrays of length T = cfg.num_frames."""

    cfg: SynthConfig
    times: np.ndarray  # [T] seconds of each frame
    spec: CharacterSpec
    sprite: HeadSprite
    background: np.ndarray  # [H, W, 3] uint8, torso included
    background_kind: str
    torso: Torso
    affine: np.ndarray  # [T, 2, 3] canonical face units -> frame pixels
    pose: np.ndarray  # [T, 6] motion.POSE_COLUMNS
    animation: FaceAnimation
    lighting: np.ndarray  # [T, 6] motion.LIGHTING_COLUMNS
    occluders: tuple[OccluderEvent, ...]

    @property
    def num_frames(self) -> int:
        """T, the number of frames."""
        return len(self.times)


def frame_times(cfg: SynthConfig) -> np.ndarray:
    """Timestamps `[T]` of a clip's frames in seconds."""
    return np.arange(cfg.num_frames, dtype=np.float64) / cfg.fps


def child_seq(seq: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """Child `index` of `seq`, derived without mutating `seq` (unlike `spawn`)."""
    return np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, index))


def child_rngs(seq: np.random.SeedSequence, n: int) -> list[np.random.Generator]:
    """Generators of children 0..n-1 of `seq` (stateless, see `child_seq`)."""
    return [np.random.default_rng(child_seq(seq, i)) for i in range(n)]


def build_scene(seq: np.random.SeedSequence, cfg: SynthConfig) -> Scene:
    """Sample and pre-render one scene from the scene seed sequence `seq`."""
    r_char, r_sprite, r_place, r_motion, r_face, r_light, r_occ = child_rngs(seq, 7)
    w, h = cfg.size
    short = min(w, h)
    times = frame_times(cfg)
    spec = sample_character(r_char, cfg.character)
    face_px = r_place.uniform(*cfg.character.face_fraction) * short / FACE_BOX_H
    base = np.array([w / 2 + r_place.uniform(-0.08, 0.08) * short,
                     h * 0.47 + r_place.uniform(-0.04, 0.04) * short])
    background, bg_kind = render_background(r_place, cfg.size)
    torso = render_torso(cfg.size, (base[0], base[1] + _NECK_BASE_Y * face_px), face_px,
                         spec.clothes, spec.skin)
    _bake_torso(background, torso)
    motion = head_motion(r_motion, times, cfg.motion)
    center = base + np.stack([motion.dx, motion.dy], 1) * short
    center = _keep_face_inside(center, face_px * motion.scale, cfg.size, spec.half_w)
    pose = np.stack([center[:, 0], center[:, 1], motion.roll_deg, motion.scale,
                     motion.squash[:, 0], motion.squash[:, 1]], 1)
    return Scene(
        cfg=cfg, times=times, spec=spec, sprite=build_sprite(spec, face_px, r_sprite),
        background=background, background_kind=bg_kind, torso=torso,
        affine=pose_to_affine(pose, face_px), pose=pose.astype(np.float32),
        animation=face_animation(r_face, times), lighting=lighting_track(r_light, times,
                                                                         cfg.lighting, cfg.size),
        occluders=sample_occluders(r_occ, cfg.duration, cfg.occlusion),
    )


def _bake_torso(background: np.ndarray, torso: Torso) -> None:
    composite(background[torso.top:], torso.rgba)


def _keep_face_inside(center: np.ndarray, unit_px: np.ndarray, size: tuple[int, int],
                      half_w: float) -> np.ndarray:
    """Clamp face centres `[T, 2]` so the face box stays on screen (when it fits at all)."""
    w, h = size
    half_x, up, down = unit_px * (half_w + 0.05), unit_px * 0.5, unit_px * (CHIN_Y + 0.05)
    out = center.copy()
    ok_x = 2 * half_x < w
    out[:, 0] = np.where(ok_x, np.clip(center[:, 0], half_x, w - half_x), center[:, 0])
    ok_y = up + down < h
    out[:, 1] = np.where(ok_y, np.clip(center[:, 1], up, h - down), center[:, 1])
    return out


def pose_to_affine(pose: np.ndarray, face_px: float) -> np.ndarray:
    """Poses `[T, 6]` (POSE_COLUMNS) -> affines `[T, 2, 3]` from face units to frame pixels.

    Roll pivots about the neck (`_ROLL_PIVOT`), as a head tilts on its neck, so the neck
    swings far less than the crown; with zero roll the face centre lands on (center_x, center_y).
    """
    theta = np.deg2rad(pose[:, 2])
    c, s = np.cos(theta), np.sin(theta)
    sx = face_px * pose[:, 3] * pose[:, 4]
    sy = face_px * pose[:, 3] * pose[:, 5]
    affine = np.empty((len(pose), 2, 3))
    affine[:, 0, 0], affine[:, 0, 1] = c * sx, -s * sy
    affine[:, 1, 0], affine[:, 1, 1] = s * sx, c * sy
    pivot = np.array([0.0, _ROLL_PIVOT])
    # x = center + S P + R S (u - P)  =>  translation = center + S P - R S P
    scaled_pivot = np.stack([np.zeros(len(pose)), sy * _ROLL_PIVOT], 1)
    rotated = np.einsum("tij,j->ti", affine[:, :, :2], pivot)
    affine[:, :, 2] = pose[:, :2] + scaled_pivot - rotated
    return affine


def apply_affine(affine: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Map points `[N, 2]` with one affine `[2, 3]` -> `[N, 2]`."""
    return pts @ affine[:, :2].T + affine[:, 2]
