"""Static layers behind and below the head: procedural backgrounds and the torso.

Rendered once per clip at frame size. Backgrounds are gradients, rooms (wall, floor, window,
frames), blurred shape collages, noise textures and bokeh; a depth-of-field blur is applied
at random. The torso is returned both baked into the background and as a premultiplied
overlay, so the compositor can put it back over the moving neck. Imports: numpy, cv2.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from xdub.synth.character import Rgb, scale_colour
from xdub.synth.draw import SHIFT

BACKGROUNDS = ("gradient", "room", "shapes", "texture", "bokeh")


def _colour(rng: np.random.Generator, lo: int = 20, hi: int = 235) -> np.ndarray:
    return rng.integers(lo, hi, 3).astype(np.float32)


def _gradient(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Linear two-colour gradient at a random angle, float32 [h, w, 3]."""
    a, b = _colour(rng), _colour(rng)
    ang = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (np.cos(ang) * xx / w + np.sin(ang) * yy / h)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return a + t[..., None] * (b - a)


def _room(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = _gradient(rng, h, w) * 0.3 + _colour(rng, 90, 230) * 0.7
    floor_y = int(h * rng.uniform(0.6, 0.85))
    img[floor_y:] = img[floor_y:] * 0.6 + _colour(rng, 30, 150) * 0.4
    for _ in range(int(rng.integers(1, 4))):  # windows and picture frames
        x0, y0 = int(rng.uniform(0, w * 0.85)), int(rng.uniform(0, floor_y * 0.7))
        x1, y1 = x0 + int(w * rng.uniform(0.1, 0.35)), y0 + int(h * rng.uniform(0.1, 0.3))
        frame_c = tuple(float(v) for v in _colour(rng, 20, 120))
        cv2.rectangle(img, (x0, y0), (x1, y1), frame_c, -1)
        pad = max(2, (x1 - x0) // 12)
        inner = tuple(float(v) for v in _colour(rng, 120, 255))
        cv2.rectangle(img, (x0 + pad, y0 + pad), (x1 - pad, y1 - pad), inner, -1)
    return img


def _shapes(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = _gradient(rng, h, w)
    for _ in range(int(rng.integers(6, 18))):
        c = tuple(float(v) for v in _colour(rng))
        x, y = int(rng.uniform(0, w)), int(rng.uniform(0, h))
        r = int(min(h, w) * rng.uniform(0.04, 0.2))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), r, c, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(img, (x - r, y - r // 2), (x + r, y + r), c, -1)
    return img


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    a, b = _colour(rng), _colour(rng)
    cell = min(h, w) * rng.uniform(0.05, 0.25)
    coarse = rng.standard_normal((int(h / cell) + 2, int(w / cell) + 2)).astype(np.float32)
    t = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.5:  # wallpaper stripes
        period = min(h, w) * rng.uniform(0.03, 0.12)
        t = t * 0.4 + np.sin(np.arange(w, dtype=np.float32) * (2 * np.pi / period))[None, :]
    t = 1.0 / (1.0 + np.exp(-1.5 * t))
    return a + t[..., None] * (b - a)


def _bokeh(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = _gradient(rng, h, w) * 0.35
    spots = np.zeros_like(img)
    for _ in range(int(rng.integers(10, 30))):
        c = tuple(float(v) for v in _colour(rng, 80, 255) * rng.uniform(0.3, 0.7))
        r = int(min(h, w) * rng.uniform(0.02, 0.08))
        cv2.circle(spots, (int(rng.uniform(0, w)), int(rng.uniform(0, h))), r, c, -1, cv2.LINE_AA)
    return img + cv2.GaussianBlur(spots, (0, 0), max(1.0, min(h, w) * 0.01))


_MAKERS = {"gradient": _gradient, "room": _room, "shapes": _shapes, "texture": _texture,
           "bokeh": _bokeh}


def render_background(rng: np.random.Generator, size: tuple[int, int]) -> tuple[np.ndarray, str]:
    """A random background `[H, W, 3]` uint8 for `size = (W, H)`, and its type name."""
    w, h = size
    kind = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    img = _MAKERS[kind](rng, h, w)
    img += rng.normal(0.0, 2.0, img.shape).astype(np.float32)  # sensor-like grain
    if rng.random() < 0.6:  # depth of field: the background is behind the focus plane
        img = cv2.GaussianBlur(img, (0, 0), min(h, w) * rng.uniform(0.003, 0.012))
    return np.clip(img, 0, 255).astype(np.uint8), kind


@dataclass(frozen=True)
class Torso:
    """Premultiplied RGBA torso overlay `rgba: [H - top, W, 4]` covering rows `top:` of frames."""

    rgba: np.ndarray
    top: int


def render_torso(size: tuple[int, int], neck_px: tuple[float, float], unit_px: float,
                 clothes: Rgb, skin: Rgb) -> Torso:
    """Shoulders below a neck whose base is at `neck_px` (frame pixels), `unit_px` per face unit."""
    w, h = size
    cx, top = neck_px
    u = unit_px
    pts = np.array([[cx - 0.3 * u, top], [cx + 0.3 * u, top], [cx + 0.95 * u, top + 0.12 * u],
                    [cx + 1.3 * u, top + 0.4 * u], [cx + 1.45 * u, h + 4 * u],
                    [cx - 1.45 * u, h + 4 * u], [cx - 1.3 * u, top + 0.4 * u],
                    [cx - 0.95 * u, top + 0.12 * u]])
    collar = np.array([[cx - 0.26 * u, top - 1], [cx + 0.26 * u, top - 1], [cx, top + 0.3 * u]])
    y0 = int(max(0, np.floor(top - 2)))
    layer = np.zeros((max(1, h - y0), w, 4), np.uint8)
    for poly, colour in ((pts, clothes), (collar, scale_colour(skin, 0.82))):
        fixed = np.round((poly - (0, y0)) * (1 << SHIFT)).astype(np.int32)
        cv2.fillPoly(layer, [fixed], (*colour, 255), cv2.LINE_AA, SHIFT)
    edge = tuple(int(v) for v in scale_colour(clothes, 0.6)) + (255,)
    fixed = np.round((pts - (0, y0)) * (1 << SHIFT)).astype(np.int32)
    cv2.polylines(layer, [fixed], True, edge, max(1, int(u * 0.012)), cv2.LINE_AA, SHIFT)
    return Torso(layer, y0)


def composite(dst: np.ndarray, src_rgba: np.ndarray) -> None:
    """Premultiplied "over": `dst[...] = src.rgb + dst * (1 - src.a)` for equal-size arrays."""
    inv = cv2.cvtColor(cv2.bitwise_not(cv2.extractChannel(src_rgba, 3)), cv2.COLOR_GRAY2RGB)
    dst[:] = cv2.add(cv2.multiply(dst, inv, scale=1.0 / 255.0),
                     cv2.cvtColor(src_rgba, cv2.COLOR_RGBA2RGB))
