"""Per-frame compositor: sprite + face parts -> warp -> composite -> occluders -> lighting.

The expensive parts (background, torso, head sprite with texture and shading) are rendered
once per clip by `scene.py`; per frame we only copy the sprite, draw brows/eyes/mouth into
it, warp it into the frame with ONE `cv2.warpAffine` limited to the head's bounding box,
alpha-composite, draw any occluder and multiply by the lighting gain map. Ground truth
(landmarks, face box, mouth-region and occluder masks) comes from the same geometry.
Imports: numpy, cv2, sibling synth modules.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from xdub.synth.backdrop import composite
from xdub.synth.draw import SHIFT
from xdub.synth.face_parts import FaceRig, face_box_outline, mouth_zone
from xdub.synth.motion import ramp_coords
from xdub.synth.occluders import draw_occluders, occluder_polygons
from xdub.synth.scene import Scene, apply_affine

_FIXED = 128.0  # fixed-point scale of the lighting gain map


@dataclass(frozen=True)
class FrameTruth:
    """Ground truth of one frame (pixel coordinates of the output frame)."""

    landmarks: np.ndarray  # [68, 2] float32 (x, y)
    face_box: np.ndarray  # [4] float32 (x0, y0, x1, y1)
    mouth_mask: np.ndarray  # [H, W] bool, region the mouth can ever cover (speech-free)
    occluder_mask: np.ndarray  # [H, W] bool, pixels >= 50 % covered by an occluder


class FrameRenderer:
    """Renders frames of one `Scene` given per-frame mouth parameters."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.rig = FaceRig(scene.spec, scene.sprite)
        sprite = scene.sprite
        w, h = scene.cfg.size
        # Sprite pixels -> face units, so per-frame affines compose into sprite -> frame.
        inv = np.array([[1 / sprite.face_px, 0, -sprite.origin[0] / sprite.face_px],
                        [0, 1 / sprite.face_px, -sprite.origin[1] / sprite.face_px], [0, 0, 1]])
        self._sprite_affine = scene.affine @ inv  # [T, 2, 3]
        sh, sw = sprite.rgba.shape[:2]
        self._corners = np.array([[0, 0], [sw, 0], [0, sh], [sw, sh]], np.float64)
        self._zone = mouth_zone(scene.spec)
        self._box_pts = face_box_outline(scene.spec)
        self._mouth_centre = np.array([[0.0, scene.spec.mouth_y]])
        ramp_x, ramp_y = ramp_coords((w, h))
        self._ramp_x = np.ascontiguousarray(np.broadcast_to(ramp_x[None, :, None], (h, w, 3)))
        self._ramp_y = np.ascontiguousarray(np.broadcast_to(ramp_y[:, None, None], (h, w, 3)))

    def render(self, index: int, mouth: np.ndarray) -> tuple[np.ndarray, FrameTruth]:
        """Frame `index` with mouth parameters `mouth: [5]` -> (frame [H, W, 3] uint8, truth)."""
        scene, anim = self.scene, self.scene.animation
        # 1. Animated parts into a copy of the static head sprite (canonical frame).
        canvas = scene.sprite.rgba.copy()
        canon_marks = self.rig.draw(canvas, mouth, float(anim.blink[index]), anim.gaze[index],
                                    float(anim.brow[index]))
        # 2. Warp the head into the frame and composite it (and the torso) over the background.
        frame = scene.background.copy()
        self._paste_head(frame, canvas, self._sprite_affine[index])
        # 3. Occluders follow the mouth on screen.
        w, h = scene.cfg.size
        occ_mask = np.zeros((h, w), bool)
        affine = scene.affine[index]
        mouth_px = apply_affine(affine, self._mouth_centre)[0]
        unit_px = float(np.sqrt(abs(np.linalg.det(affine[:, :2]))))
        for event in scene.occluders:
            polys = occluder_polygons(event, float(scene.times[index]), mouth_px, unit_px)
            draw_occluders(frame, occ_mask, polys)
        # 4. Scene lighting over everything.
        frame = self._light(frame, scene.lighting[index])
        return frame, self._truth(index, canon_marks, occ_mask)

    def _paste_head(self, frame: np.ndarray, canvas: np.ndarray, m: np.ndarray) -> None:
        h, w = frame.shape[:2]
        pts = apply_affine(m, self._corners)
        x0, y0 = np.maximum(np.floor(pts.min(0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(pts.max(0)).astype(int) + 1, (w, h))
        if x1 <= x0 or y1 <= y0:
            return
        m_roi = m.copy()
        m_roi[:, 2] -= (x0, y0)
        head = cv2.warpAffine(canvas, m_roi, (int(x1 - x0), int(y1 - y0)), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
        roi = frame[y0:y1, x0:x1]
        composite(roi, head)
        torso = self.scene.torso
        ty0 = max(y0, torso.top)
        if ty0 < y1:  # the torso sits in front of the neck
            composite(frame[ty0:y1, x0:x1], torso.rgba[ty0 - torso.top:y1 - torso.top, x0:x1])

    def _light(self, frame: np.ndarray, state: np.ndarray) -> np.ndarray:
        """Multiply by brightness * colour gains * directional ramp (state: LIGHTING_COLUMNS).

        The gain map is built in 1/128 fixed point as uint8 (gains up to ~2), which keeps the
        per-pixel multiply a single SIMD uint8 op.
        """
        bright, angle = float(state[0]), float(state[4])
        k = bright * float(state[5])  # capped in lighting_track so the ramp stays positive
        ramp = cv2.addWeighted(self._ramp_x, k * np.cos(angle) * _FIXED, self._ramp_y,
                               k * np.sin(angle) * _FIXED, bright * _FIXED)
        cv2.multiply(ramp, (float(state[1]), float(state[2]), float(state[3]), 0.0), dst=ramp)
        gain = cv2.convertScaleAbs(ramp)  # saturates at 255 = gain 1.99
        return cv2.multiply(frame, gain, scale=1.0 / _FIXED)

    def _truth(self, index: int, canon: np.ndarray, occ_mask: np.ndarray) -> FrameTruth:
        scene = self.scene
        w, h = scene.cfg.size
        affine = scene.affine[index]
        marks = apply_affine(affine, canon)
        box_pts = apply_affine(affine, self._box_pts)
        box = np.concatenate([box_pts.min(0), box_pts.max(0)]).astype(np.float32)
        zone = np.round(apply_affine(affine, self._zone) * (1 << SHIFT)).astype(np.int32)
        mouth_mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mouth_mask, [zone], 1, cv2.LINE_8, SHIFT)
        return FrameTruth(marks.astype(np.float32), box, mouth_mask.view(bool), occ_mask)
