"""Static head sprite: everything of a character that does not move relative to the head.

Drawn once per clip in the canonical head frame (face units scaled by `face_px`) as a
premultiplied RGBA image: back hair, ears, neck, head, muzzle, nose, texture, shading, front
hair and hats. The animated parts (brows, eyes, mouth) are drawn per frame into a copy of it
by `face_parts.py`, then the renderer warps the whole sprite into the frame with one affine.
Imports: numpy, cv2, sibling synth modules.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from xdub.synth.character import CHIN_Y, JAW_Y, CharacterSpec, mix_colour, scale_colour
from xdub.synth.draw import Painter, ellipse_points, rgba, superellipse_arc

# Canonical extent drawn into the sprite before cropping (face units): room for tall ears,
# hats and a neck long enough to reach under the torso whatever the head motion.
_EXTENT = (-1.1, -1.5, 1.1, 1.45)  # x0, y0, x1, y1


@dataclass(frozen=True)
class HeadSprite:
    """Premultiplied RGBA head `rgba: [h, w, 4]`; canonical (0, 0) sits at pixel `origin`."""

    rgba: np.ndarray
    face_px: float  # pixels per face unit
    origin: tuple[float, float]  # (x, y) sprite pixel of the canonical origin
    shade: dict[str, float]  # baked shading at "eyes" / "mouth", tints per-frame parts


def head_outline(spec: CharacterSpec, n: int = 72) -> np.ndarray:
    """Closed head contour `[n, 2]` (face units): jaw half then skull half."""
    jaw = superellipse_arc((0.0, JAW_Y), (spec.half_w, CHIN_Y - JAW_Y), spec.jaw_n,
                           (0.0, np.pi), n // 2)
    skull = superellipse_arc((0.0, JAW_Y), (spec.half_w, spec.skull_h), spec.skull_n,
                             (np.pi, 2 * np.pi), n // 2)
    return np.concatenate([jaw, skull[1:-1]])


def jaw_landmarks(spec: CharacterSpec) -> np.ndarray:
    """The 17 jaw landmarks `[17, 2]` from the left ear level, through the chin, to the right."""
    pts = superellipse_arc((0.0, JAW_Y), (spec.half_w, CHIN_Y - JAW_Y), spec.jaw_n,
                           (np.pi, 0.0), 17)
    return pts


def build_sprite(spec: CharacterSpec, face_px: float, rng: np.random.Generator) -> HeadSprite:
    """Render the static head of `spec` at `face_px` pixels per face unit."""
    x0, y0, x1, y1 = _EXTENT
    w, h = int(np.ceil((x1 - x0) * face_px)), int(np.ceil((y1 - y0) * face_px))
    canvas = np.zeros((h, w, 4), np.uint8)
    paint = Painter(canvas, face_px, (-x0 * face_px, -y0 * face_px))
    _draw_back(paint, spec)
    _draw_head(paint, spec)
    _draw_muzzle_and_nose(paint, spec)
    if spec.style in ("shaded", "textured") and spec.texture != "none":
        strength = 1.0 if spec.style == "textured" else 0.4
        _apply_map(canvas, _texture_map(spec, canvas.shape[:2], face_px, rng, strength))
    _draw_hair_front(paint, spec)
    _draw_hat(paint, spec)
    shading = None
    if spec.style in ("shaded", "textured"):
        shading = _shading_map(canvas, paint)
        _apply_map(canvas, shading)
    return _crop(canvas, paint, face_px, shading, spec)


# ---------------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------------


def _stroke(spec: CharacterSpec, fill: tuple[int, int, int]) -> tuple:
    """Outline colour for a fill: the global outline for line art, else a darker fill."""
    if spec.style == "lineart":
        return rgba(spec.outline)
    return rgba(scale_colour(fill, 0.55) if spec.style != "flat" else spec.outline)


def _draw_back(paint: Painter, spec: CharacterSpec) -> None:
    """Parts behind the head: long hair, ears, neck."""
    lw = spec.line_w
    if spec.hair == "long":
        hair = ellipse_points((0.0, JAW_Y + 0.1), (spec.half_w * 1.3, spec.skull_h * 1.15 + 0.12))
        paint.fill(hair, rgba(spec.hair_colour), _stroke(spec, spec.hair_colour), lw)
    _draw_ears(paint, spec)
    neck_w = spec.half_w * 0.5
    neck = np.array([[-neck_w, 0.2], [neck_w, 0.2], [neck_w * 1.1, 1.45], [-neck_w * 1.1, 1.45]])
    neck_col = scale_colour(spec.skin, 0.82)
    paint.fill(neck, rgba(neck_col), _stroke(spec, neck_col), lw)


def _draw_ears(paint: Painter, spec: CharacterSpec) -> None:
    s, hw, top = spec.ear_size, spec.half_w, JAW_Y - spec.skull_h
    for side in (-1.0, 1.0):
        if spec.ears == "human":
            centre = (side * (hw - 0.01), -0.08)
            paint.ellipse(centre, (s * 0.55, s), rgba(spec.skin), _stroke(spec, spec.skin),
                          spec.line_w)
            paint.ellipse((centre[0] + side * 0.01, centre[1]), (s * 0.25, s * 0.6),
                          rgba(scale_colour(spec.skin, 0.85)))
            continue
        if spec.ears == "floppy":
            centre, axes, tilt = (side * (hw + 0.02), -0.05), (s * 0.4, s * 1.1), side * 0.25
        elif spec.ears == "long":
            centre, axes, tilt = (side * hw * 0.45, top - s * 0.9), (s * 0.28, s * 1.3), side * 0.15
        elif spec.ears == "round":
            centre, axes, tilt = (side * hw * 0.72, top + 0.1), (s * 0.6, s * 0.6), 0.0
        elif spec.ears == "pointy":
            base_x = side * hw * 0.7
            outer = np.array([[base_x - side * s * 0.55, top + 0.2], [base_x + side * s * 0.35,
                              top - s * 0.9], [base_x + side * s * 0.6, top + 0.28]])
            inner = outer * 0.0 + outer.mean(0) + (outer - outer.mean(0)) * 0.55
            paint.fill(outer, rgba(spec.skin), _stroke(spec, spec.skin), spec.line_w)
            paint.fill(inner + [0, 0.04], rgba(spec.skin2))
            continue
        else:
            continue
        paint.ellipse(centre, axes, rgba(spec.skin), _stroke(spec, spec.skin), spec.line_w, tilt)
        paint.ellipse(centre, (axes[0] * 0.55, axes[1] * 0.7), rgba(spec.skin2), angle=tilt)


def _draw_head(paint: Painter, spec: CharacterSpec) -> None:
    paint.fill(head_outline(spec), rgba(spec.skin), _stroke(spec, spec.skin), spec.line_w)
    if spec.blush:
        pink = mix_colour(spec.skin, (235, 120, 130), 0.35)
        for side in (-1.0, 1.0):
            paint.ellipse((side * spec.eye_dx * 1.25, spec.nose_y + 0.06), (0.07, 0.045),
                          rgba(pink))


def _draw_muzzle_and_nose(paint: Painter, spec: CharacterSpec) -> None:
    lw = spec.line_w
    if spec.muzzle:
        centre = (0.0, (spec.nose_y + spec.mouth_y) / 2 + 0.03)
        paint.ellipse(centre, spec.muzzle_r, rgba(spec.skin2), _stroke(spec, spec.skin2), lw * 0.8)
    y, w = spec.nose_y, spec.nose_w
    dark = rgba(scale_colour(spec.skin, 0.45))
    if spec.nose == "human":
        bridge = np.array([[-0.01, spec.eye_y + 0.05], [-0.02, y - 0.06], [-w * 0.4, y]])
        paint.line(bridge, rgba(scale_colour(spec.skin, 0.72)), lw * 0.8)
        tip = ellipse_points((0.0, y), (w, w * 0.45), 16, arc=(0.15, np.pi - 0.15))
        paint.line(tip, rgba(scale_colour(spec.skin, 0.6)), lw)
        for side in (-1.0, 1.0):
            paint.ellipse((side * w * 0.45, y + 0.005), (w * 0.2, w * 0.12), dark)
    elif spec.nose == "animal":
        tri = np.array([[-w * 1.1, y - 0.03], [w * 1.1, y - 0.03], [0.0, y + 0.04]])
        paint.fill(tri, rgba((45, 35, 35)), rgba((20, 15, 15)), lw * 0.6)
        paint.line(np.array([[0.0, y + 0.04], [0.0, spec.mouth_y - 0.03]]), rgba((45, 35, 35)),
                   lw * 0.8)
    elif spec.nose == "slits":
        for side in (-1.0, 1.0):
            paint.ellipse((side * w * 0.4, y), (w * 0.12, w * 0.22), dark, angle=side * 0.3)


def _draw_hair_front(paint: Painter, spec: CharacterSpec) -> None:
    hw, top, lw, col = spec.half_w, JAW_Y - spec.skull_h, spec.line_w, spec.hair_colour
    fill, stroke = rgba(col), _stroke(spec, col)
    if spec.hair in ("short", "long", "bun", "spiky", "curly"):
        fringe_y = spec.eye_y - spec.brow_gap - 0.09
        cap = superellipse_arc((0.0, JAW_Y), (hw * 1.05, spec.skull_h * 1.05), spec.skull_n,
                               (np.pi * 0.98, np.pi * 2.02), 28)
        fringe = np.stack([np.linspace(hw * 0.95, -hw * 0.95, 9),
                           fringe_y - 0.05 * np.abs(np.sin(np.linspace(0, 4 * np.pi, 9)))], 1)
        fringe[[0, -1], 1] = JAW_Y - 0.02
        paint.fill(np.concatenate([cap, fringe]), fill, stroke, lw)
        if spec.hair == "bun":
            paint.ellipse((0.0, top - 0.08), (0.16, 0.13), fill, stroke, lw)
        elif spec.hair == "spiky":
            for x in np.linspace(-hw * 0.7, hw * 0.7, 5):
                base_y = top + 0.06 + 0.25 * (x / hw) ** 2
                paint.fill(np.array([[x - 0.08, base_y], [x + 0.02, base_y - 0.2],
                                     [x + 0.08, base_y]]), fill, stroke, lw)
        elif spec.hair == "curly":
            for t in np.linspace(np.pi * 1.05, np.pi * 1.95, 9):
                c = (np.cos(t) * hw * 1.05, JAW_Y + np.sin(t) * spec.skull_h * 1.05)
                paint.ellipse(c, (0.09, 0.08), fill, stroke, lw)
    elif spec.hair == "crest":
        for i, x in enumerate(np.linspace(-0.12, 0.12, 4)):
            paint.fill(np.array([[x - 0.06, top + 0.05], [x + 0.02 * (i - 1.5), top - 0.12],
                                 [x + 0.06, top + 0.05]]), fill, stroke, lw)
    elif spec.hair == "antennae":
        for side in (-1.0, 1.0):
            stalk = np.array([[side * 0.12, top + 0.06], [side * 0.22, top - 0.2],
                              [side * 0.3, top - 0.35]])
            paint.line(stalk, rgba(scale_colour(spec.skin, 0.6)), 0.025)
            paint.ellipse((side * 0.3, top - 0.37), (0.05, 0.05), fill, stroke, lw)


def _draw_hat(paint: Painter, spec: CharacterSpec) -> None:
    hw, top, lw, col = spec.half_w, JAW_Y - spec.skull_h, spec.line_w, spec.hat_colour
    fill, stroke = rgba(col), _stroke(spec, col)
    band_y = spec.eye_y - spec.brow_gap - 0.12  # keep the brows visible under any hat
    if spec.hat == "headband":
        band = superellipse_arc((0.0, JAW_Y), (hw * 1.02, spec.skull_h * 1.02), spec.skull_n,
                                (np.pi * 1.12, np.pi * 1.88), 16)
        paint.line(band[(band[:, 1] > band_y - 0.2)], fill, 0.05)
        return
    if spec.hat == "none":
        return
    dome = superellipse_arc((0.0, band_y), (hw * 1.08, band_y - top + 0.06), 2.4,
                            (np.pi, 2 * np.pi), 24)
    if spec.hat in ("cap", "beanie"):
        paint.fill(dome, fill, stroke, lw)
        if spec.hat == "cap":
            paint.ellipse((0.0, band_y), (hw * 1.05, 0.07), rgba(scale_colour(col, 0.8)), stroke, lw)
        else:
            rim = np.array([[-hw * 1.1, band_y - 0.09], [hw * 1.1, band_y - 0.09],
                            [hw * 1.1, band_y + 0.02], [-hw * 1.1, band_y + 0.02]])
            paint.fill(rim, rgba(scale_colour(col, 0.85)), stroke, lw)
            paint.ellipse((0.0, top - 0.1), (0.08, 0.07), rgba(scale_colour(col, 1.2)), stroke, lw)
    elif spec.hat == "tophat":
        body = np.array([[-hw * 0.75, band_y], [hw * 0.75, band_y], [hw * 0.7, top - 0.45],
                         [-hw * 0.7, top - 0.45]])
        paint.ellipse((0.0, band_y), (hw * 1.35, 0.07), fill, stroke, lw)
        paint.fill(body, fill, stroke, lw)
        ribbon = np.array([[-hw * 0.75, band_y - 0.02], [hw * 0.75, band_y - 0.02],
                           [hw * 0.74, band_y - 0.1], [-hw * 0.74, band_y - 0.1]])
        paint.fill(ribbon, rgba(mix_colour(col, (180, 30, 40), 0.6)))


# ---------------------------------------------------------------------------------------------
# Texture and shading (multiplicative maps over the sprite)
# ---------------------------------------------------------------------------------------------


def _apply_map(canvas: np.ndarray, gain: np.ndarray) -> None:
    """Multiply premultiplied RGB by `gain: [h, w]` in place (alpha is unchanged)."""
    rgb = canvas[..., :3].astype(np.float32) * gain[..., None]
    canvas[..., :3] = np.clip(rgb, 0, 255).astype(np.uint8)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell_px: float) -> np.ndarray:
    """Zero-mean, unit-ish noise `[h, w]` with blobs about `cell_px` pixels across."""
    h, w = shape
    gh, gw = max(2, int(h / cell_px) + 2), max(2, int(w / cell_px) + 2)
    coarse = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)


def _texture_map(spec: CharacterSpec, shape: tuple[int, int], face_px: float,
                 rng: np.random.Generator, strength: float) -> np.ndarray:
    """Skin/fur/scale/spot pattern as a gain map around 1."""
    h, w = shape
    if spec.texture == "fur":
        grain = rng.standard_normal((h, w)).astype(np.float32)
        k = max(3, int(face_px * 0.05)) | 1
        kernel = np.zeros((k, k), np.float32)
        cv2.line(kernel, (k // 2 - k // 5, 0), (k // 2 + k // 5, k - 1), 1.0, 1)
        streaks = cv2.filter2D(grain, -1, kernel / kernel.sum())
        gain = 1.0 + 0.35 * streaks + 0.05 * _smooth_noise(rng, shape, face_px * 0.3)
    elif spec.texture == "scales":
        cell = max(3.0, face_px * rng.uniform(0.045, 0.07))
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) / cell
        row = np.floor(yy)
        fx = xx + 0.5 * (row % 2) - np.floor(xx + 0.5 * (row % 2)) - 0.5
        fy = yy - row - 0.35
        gain = 1.05 - 0.45 * np.clip(fx * fx * 2.5 + fy * fy * 2.0, 0.0, 1.0)
    elif spec.texture == "spots":
        gain = np.ones(shape, np.float32)
        for _ in range(int(rng.integers(12, 28))):
            c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
            r = max(1, int(face_px * rng.uniform(0.02, 0.06)))
            cv2.circle(gain, c, r, float(rng.uniform(0.6, 0.8)), -1, cv2.LINE_AA)
        gain = cv2.GaussianBlur(gain, (0, 0), max(0.6, face_px * 0.004))
    else:  # "noise": skin pores and blotches
        gain = 1.0 + 0.04 * _smooth_noise(rng, shape, face_px * 0.15)
        gain += 0.025 * rng.standard_normal(shape).astype(np.float32)
    return (1.0 + strength * (gain.astype(np.float32) - 1.0)).astype(np.float32)


def _shading_map(canvas: np.ndarray, paint: Painter) -> np.ndarray:
    """Soft key light from the upper left plus a darker rim near the silhouette."""
    h, w = canvas.shape[:2]
    key = paint.to_px(np.array([[-0.3, -0.5]]))[0]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.hypot(xx - key[0], yy - key[1]) / (1.3 * paint.face_px)
    gain = 1.12 - 0.38 * np.clip(dist, 0.0, 1.0) ** 1.5
    inside = (canvas[..., 3] > 127).astype(np.uint8)
    edge = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    gain *= 1.0 - 0.22 * np.exp(-edge / max(1.0, 0.05 * paint.face_px))
    return gain.astype(np.float32)


def _crop(canvas: np.ndarray, paint: Painter, face_px: float, shading: np.ndarray | None,
          spec: CharacterSpec) -> HeadSprite:
    """Trim transparent borders (less to warp per frame) and record feature shading."""
    def shade_at(u: tuple[float, float]) -> float:
        """Baked shading gain at a face-unit point (1 when unshaded)."""
        if shading is None:
            return 1.0
        x, y = paint.to_px(np.array([u]))[0]
        return float(shading[int(y), int(x)])

    shade = {"eyes": shade_at((0.0, spec.eye_y)), "mouth": shade_at((0.0, spec.mouth_y))}
    ys, xs = np.nonzero(canvas[..., 3])
    x0, y0 = max(0, xs.min() - 2), max(0, ys.min() - 2)
    x1, y1 = min(canvas.shape[1], xs.max() + 3), min(canvas.shape[0], ys.max() + 3)
    origin = (float(paint.origin[0] - x0), float(paint.origin[1] - y0))
    return HeadSprite(np.ascontiguousarray(canvas[y0:y1, x0:x1]), face_px, origin, shade)
