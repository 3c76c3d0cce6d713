"""Occluders that cross or rest on the lower face: hands, microphones and held objects.

Events are drawn from the scene RNG stream; each follows the head's mouth on screen (so it
really covers the lower face) while sweeping past or stopping over it. Shapes are polygons in
*occluder units* (face units of the current head size), drawn with anti-aliasing into a small
premultiplied layer that is composited over the frame; the same polygons give the per-frame
occluder mask. Imports: numpy, cv2, sibling synth modules, xdub.config.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from xdub.config.synth import OcclusionConfig
from xdub.synth.backdrop import composite
from xdub.synth.character import Rgb, mix_colour, scale_colour
from xdub.synth.draw import SHIFT, ellipse_points

_SUPERSAMPLE = 4  # sub-samples per pixel side when rasterising an occluder
_OBJECTS = ("cup", "phone", "card", "ball")
_SKINS: tuple[Rgb, ...] = ((241, 194, 160), (224, 172, 130), (160, 102, 70), (255, 224, 196),
                           (120, 75, 50))


@dataclass(frozen=True)
class OccluderEvent:
    """One occluder appearance: what, when, from where and where it passes the mouth."""

    kind: str  # hand | microphone | object
    variant: str  # object shape (cup, phone, card, ball); "" for hand/microphone
    start: float  # seconds
    duration: float  # seconds on screen
    hold: bool  # stops over the mouth (True) or sweeps across it (False)
    entry: float  # direction it comes from, radians in image coords (pi/2 = from below)
    target: tuple[float, float]  # offset from the mouth where it passes/stops (face units)
    size: float  # relative size
    colour: Rgb
    colour2: Rgb


def sample_occluders(rng: np.random.Generator, duration: float,
                     cfg: OcclusionConfig) -> tuple[OccluderEvent, ...]:
    """Occluder events over a clip of `duration` seconds (none when `cfg.rate` is 0)."""
    if cfg.rate <= 0:
        return ()
    n = max(int(rng.poisson(cfg.rate * duration)), cfg.min_events)
    events = []
    for _ in range(n):
        kind = str(cfg.kinds[int(rng.integers(len(cfg.kinds)))])
        length = min(rng.uniform(*cfg.duration_s), duration)
        below = kind == "microphone" or rng.random() < 0.3
        entry = np.pi / 2 + rng.uniform(-0.5, 0.5) if below else \
            (0.0 if rng.random() < 0.5 else np.pi) + rng.uniform(-0.6, 0.6)
        colour = _SKINS[int(rng.integers(len(_SKINS)))] if kind == "hand" else \
            tuple(int(v) for v in rng.integers(30, 230, 3))
        events.append(OccluderEvent(
            kind=kind,
            variant=str(_OBJECTS[int(rng.integers(len(_OBJECTS)))]) if kind == "object" else "",
            start=float(rng.uniform(0.0, max(duration - length, 1e-3))), duration=float(length),
            hold=bool(rng.random() < cfg.hold_prob), entry=float(entry),
            target=(float(rng.uniform(-0.15, 0.15)), float(rng.uniform(0.0, 0.2))),
            size=float(rng.uniform(0.85, 1.2)), colour=colour,  # type: ignore[arg-type]
            colour2=tuple(int(v) for v in rng.integers(20, 240, 3)),  # type: ignore[arg-type]
        ))
    return tuple(events)


def _placement(event: OccluderEvent, t: float) -> float | None:
    """Distance (face units) from the target along the entry direction; None when off screen."""
    s = (t - event.start) / event.duration
    if not 0.0 <= s <= 1.0:
        return None
    travel = 1.8  # far enough that the object starts and ends clear of the face
    if not event.hold:
        return travel * (1.0 - 2.0 * s)
    ramp = min(s, 1.0 - s) / 0.3
    x = np.clip(ramp, 0.0, 1.0)
    return travel * (1.0 - x * x * (3 - 2 * x))


# ---------------------------------------------------------------------------------------------
# Shapes in occluder units: +y points back along the entry direction (towards the arm)
# ---------------------------------------------------------------------------------------------


def _capsule(p0: tuple[float, float], p1: tuple[float, float], r: float) -> np.ndarray:
    """Rounded bar from p0 to p1 with radius r, as a polygon."""
    d = np.subtract(p1, p0)
    ang = np.arctan2(d[1], d[0])
    a = ellipse_points(p0, (r, r), 10, arc=(ang + np.pi / 2, ang + 3 * np.pi / 2))
    b = ellipse_points(p1, (r, r), 10, arc=(ang - np.pi / 2, ang + np.pi / 2))
    return np.concatenate([a, b])


def _hand(ev: OccluderEvent) -> list[tuple[np.ndarray, Rgb]]:
    skin, dark = ev.colour, scale_colour(ev.colour, 0.8)
    parts = [(_capsule((0.0, 0.3), (0.0, 2.6), 0.12), dark)]  # forearm to the frame edge
    parts.append((ellipse_points((0.0, 0.1), (0.19, 0.23)), skin))
    for x, length in ((-0.13, 0.2), (-0.045, 0.25), (0.045, 0.24), (0.13, 0.19)):
        parts.append((_capsule((x, -0.05), (x * 1.2, -0.05 - length), 0.04), skin))
    parts.append((_capsule((-0.17, 0.15), (-0.3, -0.02), 0.045), skin))
    return parts


def _microphone(ev: OccluderEvent) -> list[tuple[np.ndarray, Rgb]]:
    body = (35, 35, 38)
    parts = [(_capsule((0.0, 0.1), (0.0, 2.6), 0.055), body)]
    parts.append((np.array([[-0.07, 0.08], [0.07, 0.08], [0.06, 0.2], [-0.06, 0.2]]),
                  mix_colour(body, ev.colour2, 0.5)))
    parts.append((ellipse_points((0.0, -0.04), (0.13, 0.13)), (70, 70, 75)))
    for k in (-0.06, 0.0, 0.06):  # grille bands read as texture at small sizes
        parts.append((ellipse_points((0.0, -0.04 + k), (0.125 - abs(k) * 0.6, 0.012)),
                      (110, 110, 115)))
    return parts


def _object(ev: OccluderEvent) -> list[tuple[np.ndarray, Rgb]]:
    c1, c2 = ev.colour, ev.colour2
    if ev.variant == "cup":
        return [(_capsule((0.19, -0.08), (0.19, 0.08), 0.07), scale_colour(c1, 0.8)),
                (np.array([[-0.17, -0.18], [0.17, -0.18], [0.14, 0.18], [-0.14, 0.18]]), c1),
                (ellipse_points((0.0, -0.18), (0.17, 0.04)), scale_colour(c1, 0.6))]
    if ev.variant == "phone":
        return [(np.array([[-0.13, -0.25], [0.13, -0.25], [0.13, 0.25], [-0.13, 0.25]]),
                 (25, 25, 28)),
                (np.array([[-0.11, -0.21], [0.11, -0.21], [0.11, 0.21], [-0.11, 0.21]]),
                 mix_colour(c2, (200, 220, 255), 0.5))]
    if ev.variant == "card":
        return [(np.array([[-0.26, -0.18], [0.26, -0.18], [0.26, 0.18], [-0.26, 0.18]]), c1),
                (np.array([[-0.22, -0.05], [0.22, -0.05], [0.22, 0.02], [-0.22, 0.02]]), c2)]
    return [(ellipse_points((0.0, 0.0), (0.19, 0.19)), c1),
            (ellipse_points((0.0, 0.0), (0.19, 0.05)), c2)]


_SHAPES = {"hand": _hand, "microphone": _microphone, "object": _object}


def occluder_polygons(event: OccluderEvent, t: float, mouth_px: np.ndarray,
                      unit_px: float) -> list[tuple[np.ndarray, Rgb]]:
    """Frame-pixel polygons (with colours) of `event` at time `t`, back to front; [] if absent.

    `mouth_px: [2]` is the mouth centre on screen, `unit_px` pixels per face unit.
    """
    dist = _placement(event, t)
    if dist is None:
        return []
    # Local frame: -y points away from the entry side, so arms/handles trail off screen.
    up = -np.array([np.cos(event.entry), np.sin(event.entry)])
    rot = np.array([[-up[1], -up[0]], [up[0], -up[1]]])  # columns: local x, local y axes
    anchor = (mouth_px + unit_px * (np.asarray(event.target) - up * dist))
    scale = unit_px * event.size
    return [(anchor + (pts * scale) @ rot.T, colour) for pts, colour in _SHAPES[event.kind](event)]


def draw_occluders(frame: np.ndarray, mask: np.ndarray,
                   polygons: list[tuple[np.ndarray, Rgb]]) -> None:
    """Composite polygons over `frame: [H, W, 3]` and mark coverage >= 50 % in `mask: [H, W]`.

    The layer is drawn aliased at `_SUPERSAMPLE`x and box-filtered down, which gives exact
    premultiplied colour and coverage: no background leaks through the seams between parts
    (per-part anti-aliasing would leave such seams half transparent).
    """
    if not polygons:
        return
    h, w = mask.shape
    allpts = np.concatenate([p for p, _ in polygons])
    x0, y0 = np.maximum(np.floor(allpts.min(0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(allpts.max(0)).astype(int) + 2, (w, h))
    if x1 <= x0 or y1 <= y0:
        return
    ss = _SUPERSAMPLE
    big = np.zeros(((y1 - y0) * ss, (x1 - x0) * ss, 4), np.uint8)
    for pts, colour in polygons:
        # Sub-sample centres sit at (i + 0.5) / ss in frame pixels, hence the -0.5 shift.
        fixed = np.round(((pts - (x0, y0)) * ss - 0.5) * (1 << SHIFT)).astype(np.int32)
        cv2.fillPoly(big, [fixed], (*(int(c) for c in colour), 255), cv2.LINE_8, SHIFT)
    layer = cv2.resize(big, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    composite(frame[y0:y1, x0:x1], layer)
    mask[y0:y1, x0:x1] |= layer[..., 3] >= 128
