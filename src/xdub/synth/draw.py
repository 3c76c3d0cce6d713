"""Sub-pixel polygon drawing in face units onto premultiplied RGBA canvases.

Every shape is a polygon in face units, mapped to pixels by `px = origin + u * face_px` and
drawn with cv2 at 1/16-pixel precision (`shift=4`) and anti-aliasing, so slow motions of the
mouth or eyelids move edges smoothly instead of in whole-pixel steps. Drawing an opaque colour
with LINE_AA onto a transparent (all-zero) canvas yields premultiplied alpha at the edges,
which is what the compositor expects. Imports: numpy, cv2.
"""

from __future__ import annotations

import cv2
import numpy as np

SHIFT = 4  # cv2 fractional bits: coordinates are in 1/16 pixel
_ONE = float(1 << SHIFT)

Rgb = tuple[int, int, int]


def rgba(colour: Rgb) -> tuple[int, int, int, int]:
    """Opaque RGBA drawing colour for a 4-channel canvas."""
    return (int(colour[0]), int(colour[1]), int(colour[2]), 255)


_CIRCLE = np.linspace(0.0, 2 * np.pi, 28, endpoint=False)
_CIRCLE_COS, _CIRCLE_SIN = np.cos(_CIRCLE), np.sin(_CIRCLE)


def ellipse_points(centre: tuple[float, float], axes: tuple[float, float], n: int = 28,
                   angle: float = 0.0, arc: tuple[float, float] = (0.0, 2 * np.pi)) -> np.ndarray:
    """Points `[n, 2]` on an (optionally rotated, partial) ellipse, angles in radians."""
    if n == 28 and arc == (0.0, 2 * np.pi):  # the per-frame case: reuse the unit circle
        cos_t, sin_t = _CIRCLE_COS, _CIRCLE_SIN
    else:
        t = np.linspace(arc[0], arc[1], n, endpoint=arc[1] - arc[0] < 2 * np.pi - 1e-9)
        cos_t, sin_t = np.cos(t), np.sin(t)
    x, y = axes[0] * cos_t, axes[1] * sin_t
    out = np.empty((len(x), 2))
    if angle == 0.0:
        out[:, 0], out[:, 1] = centre[0] + x, centre[1] + y
        return out
    c, s = np.cos(angle), np.sin(angle)
    out[:, 0], out[:, 1] = centre[0] + c * x - s * y, centre[1] + s * x + c * y
    return out


def superellipse_arc(centre: tuple[float, float], axes: tuple[float, float], n_exp: float,
                     arc: tuple[float, float], n: int) -> np.ndarray:
    """Points `[n, 2]` on |x/a|^n + |y/b|^n = 1 between two angles (radians, y down)."""
    t = np.linspace(arc[0], arc[1], n)
    c, s = np.cos(t), np.sin(t)
    p = 2.0 / n_exp
    x = axes[0] * np.sign(c) * np.abs(c) ** p
    y = axes[1] * np.sign(s) * np.abs(s) ** p
    return np.stack([centre[0] + x, centre[1] + y], axis=1)


class Painter:
    """Draws face-unit polygons onto a uint8 canvas (RGBA sprite or any ROI of one)."""

    def __init__(self, canvas: np.ndarray, face_px: float, origin: tuple[float, float]) -> None:
        self.canvas = canvas
        self.face_px = face_px
        self.origin = np.asarray(origin, np.float64)

    def to_px(self, pts: np.ndarray) -> np.ndarray:
        """Face units `[N, 2]` -> pixel coordinates `[N, 2]` (float)."""
        return self.origin + np.asarray(pts, np.float64) * self.face_px

    def fixed(self, pts: np.ndarray) -> np.ndarray:
        """Face units -> cv2 fixed-point int32 `[N, 2]`."""
        return np.round(self.to_px(pts) * _ONE).astype(np.int32)

    def width_px(self, width: float) -> int:
        """Line width in face units -> whole pixels (at least 1)."""
        return max(1, round(width * self.face_px))

    def fill(self, pts: np.ndarray, colour: tuple, outline: tuple | None = None,
             width: float = 0.0) -> None:
        """Fill a polygon; optionally stroke its outline `width` face units thick."""
        poly = self.fixed(pts)
        cv2.fillPoly(self.canvas, [poly], colour, cv2.LINE_AA, SHIFT)
        if outline is not None and width > 0:
            cv2.polylines(self.canvas, [poly], True, outline, self.width_px(width), cv2.LINE_AA,
                          SHIFT)

    def line(self, pts: np.ndarray, colour: tuple, width: float, closed: bool = False) -> None:
        """Stroke an open (or closed) polyline `width` face units thick."""
        cv2.polylines(self.canvas, [self.fixed(pts)], closed, colour, self.width_px(width),
                      cv2.LINE_AA, SHIFT)

    def ellipse(self, centre: tuple[float, float], axes: tuple[float, float], colour: tuple,
                outline: tuple | None = None, width: float = 0.0, angle: float = 0.0) -> None:
        """Filled ellipse (as a 28-gon) with optional outline."""
        self.fill(ellipse_points(centre, axes, angle=angle), colour, outline, width)
