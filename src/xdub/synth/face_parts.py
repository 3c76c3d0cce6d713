"""Animated face parts (mouth, eyes, brows) and the 68 landmarks, in the canonical head frame.

`FaceRig` is built once per clip from a character and its sprite; per frame it draws the
mouth from the 5 mouth parameters (opening, width, rounding, teeth, tongue), the eyes from a
blink amount and gaze, and the brows from a raise, into a copy of the sprite, and returns the
landmarks in face units. Only the mouth depends on speech.

Landmark layout (68 points, iBUG-300W order, image left to right):
  0-16 jaw (left ear level -> chin -> right), 17-21 left brow, 22-26 right brow,
  27-30 nose bridge (top -> tip), 31-35 nose base, 36-41 left eye, 42-47 right eye
  (corner, 2 upper lid, corner, 2 lower lid), 48-59 outer lips (left corner, 5 upper,
  right corner, 5 lower), 60-67 inner lips (left corner, 3 upper, right corner, 3 lower).
Imports: numpy, cv2, sibling synth modules.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from xdub.synth.character import CharacterSpec, scale_colour
from xdub.synth.draw import SHIFT, Painter, rgba, superellipse_arc
from xdub.synth.sprite import HeadSprite, jaw_landmarks

NUM_LANDMARKS = 68
MOUTH_OUTER = slice(48, 60)
MOUTH_INNER = slice(60, 68)
_UPPER_U = np.array([-2 / 3, -1 / 3, 0.0, 1 / 3, 2 / 3])  # lip landmark positions along width
_INNER_U = np.array([-0.5, 0.0, 0.5])
_N_CURVE = 20  # samples per lip / lid curve when drawing
_U = np.linspace(-1.0, 1.0, _N_CURVE)
_U_SQ = 1.0 - _U * _U
_MARK_U = np.concatenate([[-1.0], _UPPER_U, [1.0], _UPPER_U[::-1]])  # outer lip landmarks
_MARK_U_IN = np.concatenate([[-1.0], _INNER_U, [1.0], _INNER_U[::-1]])
_MARK_SIGN = np.array([0.0, -1, -1, -1, -1, -1, 0.0, 1, 1, 1, 1, 1])  # -1 upper, +1 lower lip
_MARK_SIGN_IN = np.array([0.0, -1, -1, -1, 0.0, 1, 1, 1])
_LID_LO = _U_SQ ** 0.7  # eye lid profiles (fixed exponents)
_LID_UP = _U_SQ ** 0.6


@dataclass(frozen=True)
class MouthShape:
    """Mouth polygons (face units) for one set of mouth parameters."""

    outer: np.ndarray  # [2N, 2] closed outer lip contour
    inner: np.ndarray  # [2N, 2] closed inner contour (degenerate when closed)
    upper_inner: np.ndarray  # [N, 2] inner edge of the upper lip, left -> right
    lower_inner: np.ndarray  # [N, 2] inner edge of the lower lip, left -> right
    landmarks: np.ndarray  # [20, 2] points 48..67
    gap: float  # inner opening height at the centre (face units)


def _lens(u: np.ndarray, e: float) -> np.ndarray:
    """Lip profile: 1 at the centre, 0 at the corners; smaller `e` is rounder."""
    return np.clip(1.0 - u * u, 0.0, 1.0) ** e


def _xy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.empty((len(x), 2))
    out[:, 0], out[:, 1] = x, y
    return out


def mouth_shape(spec: CharacterSpec, params: np.ndarray) -> MouthShape:
    """Lip contours from `params: [5]` = (opening, width, rounding, teeth, tongue)."""
    opening, width, rounding = float(params[0]), float(params[1]), float(params[2])
    hw = spec.mouth_hw * (0.78 + 0.45 * width) * (1.0 - 0.3 * rounding)
    hw_in = hw * (0.9 - 0.12 * rounding)
    gap = opening * spec.max_open * (1.0 + 0.2 * rounding)
    up, lo = 0.35 * gap, 0.65 * gap  # the jaw drops: the lower lip travels further
    t_up, t_lo = (t * (1.0 + 0.3 * rounding) for t in spec.lip_t)
    e = 0.75 - 0.25 * rounding
    cy = spec.mouth_y
    prof = _U_SQ ** e
    outer_up, outer_lo = _xy(_U * hw, cy - (up + t_up) * prof), _xy(_U * hw, cy + (lo + t_lo) * prof)
    inner_up, inner_lo = _xy(_U * hw_in, cy - up * prof), _xy(_U * hw_in, cy + lo * prof)
    amp = np.where(_MARK_SIGN < 0, up + t_up, lo + t_lo) * _MARK_SIGN
    amp_in = np.where(_MARK_SIGN_IN < 0, up, lo) * _MARK_SIGN_IN
    marks = np.concatenate([_xy(_MARK_U * hw, cy + amp * _lens(_MARK_U, e)),
                            _xy(_MARK_U_IN * hw_in, cy + amp_in * _lens(_MARK_U_IN, e))])
    return MouthShape(
        outer=np.concatenate([outer_up, outer_lo[::-1]]),
        inner=np.concatenate([inner_up, inner_lo[::-1]]),
        upper_inner=inner_up, lower_inner=inner_lo, landmarks=marks, gap=gap,
    )


def mouth_zone(spec: CharacterSpec, margin: float = 0.04) -> np.ndarray:
    """Polygon `[32, 2]` (face units) containing the mouth at any parameters (speech-free)."""
    hw = spec.mouth_hw * 1.23 + margin
    top = 0.35 * spec.max_open * 1.2 + spec.lip_t[0] * 1.3 + margin
    bottom = 0.65 * spec.max_open * 1.2 + spec.lip_t[1] * 1.3 + margin
    upper = superellipse_arc((0.0, spec.mouth_y), (hw, top), 2.5, (np.pi, 2 * np.pi), 16)
    lower = superellipse_arc((0.0, spec.mouth_y), (hw, bottom), 2.5, (0.0, np.pi), 16)
    return np.concatenate([upper, lower])


def _eye_curves(spec: CharacterSpec, side: float, blink: float) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower lid curves `[N, 2]` of one eye, left -> right."""
    ex, ey, (rx, ry) = side * spec.eye_dx, spec.eye_y, spec.eye_r
    x = ex + rx * _U
    lower_y = ey + 0.8 * ry * _LID_LO
    upper_open = ey - 1.1 * ry * _LID_UP
    return _xy(x, lower_y + (upper_open - lower_y) * (1.0 - blink)), _xy(x, lower_y)


def _eye_landmarks(upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Six eye points: corner, 2 upper, corner, 2 lower (iBUG order)."""
    n = len(upper) - 1
    i1, i2 = round(n / 3), round(2 * n / 3)
    return np.stack([upper[0], upper[i1], upper[i2], upper[n], lower[i2], lower[i1]])


def _brow(spec: CharacterSpec, side: float, raise_: float) -> np.ndarray:
    """Five brow points `[5, 2]`, left -> right."""
    u = np.linspace(-1.0, 1.0, 5)
    inner = (1.0 - side * u) / 2.0  # 1 at the end nearest the nose
    x = side * spec.eye_dx + u * spec.eye_r[0] * 1.15
    y = (spec.eye_y - spec.brow_gap - raise_ - 0.03 * _lens(u, 1.0) + spec.brow_tilt * inner)
    return np.stack([x, y], 1)


def _nose_landmarks(spec: CharacterSpec) -> np.ndarray:
    bridge = np.stack([np.zeros(4), np.linspace(spec.eye_y, spec.nose_y, 4)], 1)
    x = np.linspace(-0.7, 0.7, 5) * spec.nose_w
    base = np.stack([x, spec.nose_y + 0.015 + 0.015 * (1 - (x / spec.nose_w) ** 2)], 1)
    return np.concatenate([bridge, base])


def face_box_outline(spec: CharacterSpec) -> np.ndarray:
    """Points (face units) whose bounding box is the face box: jaw plus forehead corners."""
    top = spec.eye_y - spec.brow_gap - 0.1  # above the highest brow raise
    half = spec.eye_dx + spec.eye_r[0] * 1.3
    return np.concatenate([jaw_landmarks(spec), [[-half, top], [half, top]]])


class FaceRig:
    """Per-frame drawing of brows, eyes and mouth into a copy of a head sprite."""

    def __init__(self, spec: CharacterSpec, sprite: HeadSprite) -> None:
        self.spec, self.sprite = spec, sprite
        self._static = np.concatenate([jaw_landmarks(spec), _nose_landmarks(spec)])
        mouth_k, eye_k = sprite.shade["mouth"], sprite.shade["eyes"]
        self.c_lip = rgba(scale_colour(spec.lip, mouth_k))
        self.c_lipline = rgba(spec.outline if spec.style == "lineart"
                              else scale_colour(spec.lip, 0.4 * mouth_k))
        self.c_inner = rgba(scale_colour(spec.inner, mouth_k))
        self.c_teeth = rgba(scale_colour(spec.teeth, mouth_k))
        self.c_tongue = rgba(scale_colour(spec.tongue, mouth_k))
        self.c_outline = rgba(spec.outline if spec.style in ("flat", "lineart")
                              else scale_colour(spec.lip, 0.6 * mouth_k))
        self.c_sclera = rgba(scale_colour((248, 248, 244), eye_k))
        self.c_iris = rgba(scale_colour(spec.iris, eye_k))
        self.c_lid = rgba(scale_colour(spec.outline if spec.style != "shaded"
                                       else scale_colour(spec.skin, 0.35), 1.0))
        self.c_brow = rgba(spec.hair_colour if spec.style != "lineart" else spec.outline)
        self._mouth_roi = self._roi(mouth_zone(spec, margin=0.02))
        self._eye_roi = [self._roi(self._eye_box(side)) for side in (-1.0, 1.0)]

    # --- geometry --------------------------------------------------------------------------

    def _eye_box(self, side: float) -> np.ndarray:
        rx, ry = self.spec.eye_r
        c = (side * self.spec.eye_dx, self.spec.eye_y)
        return np.array([[c[0] - rx - 0.03, c[1] - ry * 1.2 - 0.03],
                         [c[0] + rx + 0.03, c[1] + ry + 0.03]])

    def _roi(self, pts: np.ndarray) -> tuple[int, int, int, int]:
        """Pixel box (x0, y0, x1, y1) of face-unit points, clipped to the sprite."""
        px = self.sprite.origin + pts * self.sprite.face_px
        h, w = self.sprite.rgba.shape[:2]
        x0, y0 = np.floor(px.min(0)).astype(int) - 2
        x1, y1 = np.ceil(px.max(0)).astype(int) + 3
        return max(0, x0), max(0, y0), min(w, x1), min(h, y1)

    def landmarks(self, mouth: np.ndarray, blink: float, brow: float) -> np.ndarray:
        """The 68 landmarks `[68, 2]` in face units for one frame."""
        lids = [_eye_curves(self.spec, s, blink) for s in (-1.0, 1.0)]
        return self._assemble(mouth_shape(self.spec, mouth), lids, brow)

    def _assemble(self, shape: MouthShape, lids: list[tuple[np.ndarray, np.ndarray]],
                  brow: float) -> np.ndarray:
        eyes = [_eye_landmarks(*lid) for lid in lids]
        brows = [_brow(self.spec, s, brow) for s in (-1.0, 1.0)]
        return np.concatenate([self._static[:17], brows[0], brows[1], self._static[17:],
                               eyes[0], eyes[1], shape.landmarks])

    # --- drawing ---------------------------------------------------------------------------

    def _painter(self, canvas: np.ndarray, roi: tuple[int, int, int, int]) -> Painter:
        x0, y0, x1, y1 = roi
        org = (self.sprite.origin[0] - x0, self.sprite.origin[1] - y0)
        return Painter(canvas[y0:y1, x0:x1], self.sprite.face_px, org)

    def draw(self, canvas: np.ndarray, mouth: np.ndarray, blink: float, gaze: np.ndarray,
             brow: float) -> np.ndarray:
        """Draw brows, eyes and mouth into `canvas` (a sprite RGBA copy); return landmarks.

        Returns the frame's 68 landmarks `[68, 2]` in face units (same as `landmarks`).
        """
        lids = [_eye_curves(self.spec, s, blink) for s in (-1.0, 1.0)]
        for i, side in enumerate((-1.0, 1.0)):
            self._draw_eye(self._painter(canvas, self._eye_roi[i]), side, lids[i], gaze)
        if self.spec.brows:
            p = Painter(canvas, self.sprite.face_px, self.sprite.origin)
            for side in (-1.0, 1.0):
                p.line(_brow(self.spec, side, brow), self.c_brow, self.spec.brow_w)
        shape = mouth_shape(self.spec, mouth)
        self._draw_mouth(self._painter(canvas, self._mouth_roi), shape, mouth)
        return self._assemble(shape, lids, brow)

    def _clip_layer(self, paint: Painter, region: np.ndarray, layer: np.ndarray) -> None:
        """Paste `layer` (same size as the ROI) into the ROI inside polygon `region`."""
        roi = paint.canvas
        mask = np.zeros(roi.shape[:2], np.uint8)
        cv2.fillPoly(mask, [paint.fixed(region)], 255, cv2.LINE_AA, SHIFT)
        alpha = mask.astype(np.float32)[..., None] * (1.0 / 255.0)
        roi[:] = (layer * alpha + roi * (1.0 - alpha) + 0.5).astype(np.uint8)

    def _draw_mouth(self, paint: Painter, shape: MouthShape, params: np.ndarray) -> None:
        spec = self.spec
        lw = max(spec.line_w * 0.8, 0.008)
        paint.fill(shape.outer, self.c_lip)
        if shape.gap * paint.face_px > 0.25:  # below a quarter pixel the inside is invisible
            layer = np.empty_like(paint.canvas)
            layer[:] = self.c_inner
            inner_p = Painter(layer, paint.face_px, tuple(paint.origin))
            self._draw_teeth_tongue(inner_p, shape, params)
            self._clip_layer(paint, shape.inner, layer)
        paint.line(shape.upper_inner, self.c_lipline, lw * 0.9)
        if shape.gap * paint.face_px > 1.0:
            paint.line(shape.lower_inner, self.c_lipline, lw * 0.6)
        if spec.style in ("flat", "lineart"):
            paint.line(shape.outer, self.c_outline, lw, closed=True)

    def _draw_teeth_tongue(self, paint: Painter, shape: MouthShape, params: np.ndarray) -> None:
        teeth, tongue = float(params[3]), float(params[4])
        lo_mid = shape.lower_inner[_N_CURVE // 2, 1]
        half_w = shape.lower_inner[-1, 0]
        ry = shape.gap * (0.25 + 0.45 * tongue) + 0.01
        paint.ellipse((0.0, lo_mid - shape.gap * 0.45 * tongue + ry * 0.4),
                      (half_w * (0.55 + 0.2 * tongue), ry), self.c_tongue)
        if teeth > 0.02:
            band_up, band_lo = 0.012 + 0.045 * teeth, 0.03 * teeth
            up = shape.upper_inner
            paint.fill(np.concatenate([up, (up + [0.0, band_up])[::-1]]), self.c_teeth)
            lo = shape.lower_inner
            paint.fill(np.concatenate([lo, (lo - [0.0, band_lo])[::-1]]), self.c_teeth)

    def _draw_eye(self, paint: Painter, side: float, lid: tuple[np.ndarray, np.ndarray],
                  gaze: np.ndarray) -> None:
        spec = self.spec
        upper, lower = lid
        lw = max(spec.line_w, 0.01) * (1.6 if spec.lashes else 1.0)
        opening = float(np.max(lower[:, 1] - upper[:, 1]))
        if opening * paint.face_px > 0.3:
            layer = paint.canvas.copy()
            inner = Painter(layer, paint.face_px, tuple(paint.origin))
            rx, ry = spec.eye_r
            centre = (side * spec.eye_dx + gaze[0] * rx * 0.35, spec.eye_y + gaze[1] * ry * 0.2)
            if spec.sclera:
                layer[:] = self.c_sclera
                r_iris = ry * spec.iris_frac
            else:
                layer[:] = self.c_iris
                r_iris = ry * 0.9
            inner.ellipse(centre, (r_iris, r_iris), self.c_iris)
            pupil = (r_iris * 0.45, r_iris * 0.45) if spec.pupil == "round" else \
                (r_iris * 0.16, r_iris * 0.95)
            inner.ellipse(centre, pupil, (12, 10, 12, 255))
            inner.ellipse((centre[0] - r_iris * 0.35, centre[1] - r_iris * 0.35),
                          (r_iris * 0.18, r_iris * 0.18), (255, 255, 255, 255))
            self._clip_layer(paint, np.concatenate([upper, lower[::-1]]), layer)
        paint.line(upper, self.c_lid, lw)
        if spec.style in ("flat", "lineart"):
            paint.line(lower, self.c_lid, lw * 0.6)
