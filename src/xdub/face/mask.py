"""Lower-face and mouth masks from xdub-68 landmarks, in any pixel space (crop or frame).

Pass landmarks in the space you want the mask in: frame landmarks for a frame mask, or
`transform_points(landmarks, affine)` for a crop mask. Geometry is built in face units (eye
midpoint at 0, x along the eye line, inter-ocular distance 1) so the mask rotates and scales
with the head: the jaw line from cheek to cheek, cut at the nose (`cfg.top`), pushed out by
`dilate` and down by `chin_margin` (the dubbed mouth may open wider than the original), then
feathered. Landmarks should be the tracker's smoothed ones so masks do not flicker.
Imports: numpy, cv2, xdub.config, xdub.face.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

from xdub.config.face import MaskConfig
from xdub.face.landmarks import (
    GROUPS,
    NOSE_MID,
    NOSE_TIP,
    keypoints,
    similarity_fit,
    transform_points,
)

SUPPORT = 0.02  # a feathered mask's support: values above this are inside (touched by an edit)
_SUPERSAMPLE = 4  # polygons are rasterised with 2 fractional bits (cv2 `shift`) for smooth edges


def _to_face_units(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(face-unit landmarks `[68, 2]`, face->pixel affine `[2, 3]`, IOD in pixels)."""
    kp = keypoints(landmarks)
    iod = float(np.linalg.norm(kp[1] - kp[0]))
    to_face = similarity_fit(kp[:2], np.array([[-0.5, 0.0], [0.5, 0.0]]))
    return transform_points(landmarks, to_face), cv2.invertAffineTransform(to_face), max(iod, 1e-6)


def _cut_at(jaw: np.ndarray, top_y: float) -> np.ndarray:
    """The part of the jaw polyline `[17, 2]` below `top_y`, with the crossing points added."""
    out: list[np.ndarray] = []
    for a, b in itertools.pairwise(jaw):
        if a[1] >= top_y:
            out.append(a)
        if (a[1] - top_y) * (b[1] - top_y) < 0:  # segment crosses the cut line
            t = (top_y - a[1]) / (b[1] - a[1])
            out.append(a + t * (b - a))
    if jaw[-1][1] >= top_y:
        out.append(jaw[-1])
    return np.asarray(out)


def lower_face_polygon(landmarks: np.ndarray, cfg: MaskConfig) -> np.ndarray:
    """Closed lower-face outline `[P, 2]` in the landmarks' pixel space (before dilation)."""
    face, to_px, _ = _to_face_units(np.asarray(landmarks, np.float64))
    top_y = {"eyes": 0.0, "nose_mid": float(face[NOSE_MID, 1]),
             "nose_tip": float(face[NOSE_TIP, 1])}[cfg.top]
    jaw = face[GROUPS["jaw"]].astype(np.float64).copy()
    mouth_y = float(face[GROUPS["mouth_outer"], 1].mean())
    chin_y = float(jaw[:, 1].max())
    # Lower the jaw progressively towards the chin (full margin at the chin, none above the mouth).
    weight = np.clip((jaw[:, 1] - mouth_y) / max(chin_y - mouth_y, 1e-6), 0.0, 1.0)
    jaw[:, 1] += cfg.chin_margin * weight
    outline = _cut_at(jaw, top_y)
    if len(outline) < 3:  # degenerate (e.g. top below the chin): fall back to the mouth hull
        outline = face[GROUPS["mouth_outer"]]
    return transform_points(outline, to_px)


def grow(mask: np.ndarray, radius: int) -> np.ndarray:
    """`mask` (`[H, W]`, any dtype cv2 dilates) grown by `radius` px with a round kernel; the
    one dilation of face masks, paste weights and kept regions."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask, kernel)


def outside_ring(mask: np.ndarray, width_px: float) -> np.ndarray:
    """`[S, S]` bool: the pixels within `width_px` (at least 1) outside the support of the
    feathered `mask: [S, S]` (values above `SUPPORT`): the skin that measures colour or light
    next to an edit."""
    inside = (mask > SUPPORT).astype(np.uint8)
    return grow(inside, max(1, round(width_px))).astype(bool) & ~inside.astype(bool)


def _rasterise(polygon: np.ndarray, shape: tuple[int, int], grow_px: float,
               feather_px: float) -> np.ndarray:
    """Filled polygon, ~1 up to `grow_px` outside it, then a Gaussian fade (sigma `feather_px`).

    The polygon is grown by 2 sigma more before blurring, so the feather lies OUTSIDE the
    grown outline (value >= 0.98 there) instead of eating into the mouth.
    """
    h, w = shape
    grow_px = grow_px + 2.0 * feather_px
    mask = np.zeros((h, w), np.uint8)
    pts = np.round(np.asarray(polygon) * _SUPERSAMPLE).astype(np.int32)
    cv2.fillPoly(mask, [pts], 255, lineType=cv2.LINE_AA, shift=2)
    if grow_px >= 0.5:
        mask = grow(mask, round(grow_px))
    out = mask.astype(np.float32) / 255.0
    if feather_px > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=feather_px, sigmaY=feather_px)
    return np.clip(out, 0.0, 1.0)


def lower_face_mask(landmarks: np.ndarray, shape: tuple[int, int], cfg: MaskConfig) -> np.ndarray:
    """Feathered lower-face mask `[H, W]` float32 in [0, 1]; `landmarks: [68, 2]` in that space."""
    iod = _to_face_units(np.asarray(landmarks, np.float64))[2]
    polygon = lower_face_polygon(landmarks, cfg)
    return _rasterise(polygon, shape, cfg.dilate * iod, cfg.feather * iod)


def mouth_mask(landmarks: np.ndarray, shape: tuple[int, int], cfg: MaskConfig) -> np.ndarray:
    """Feathered mouth-only mask `[H, W]` (outer-lip hull, grown by `mouth_dilate`)."""
    iod = _to_face_units(np.asarray(landmarks, np.float64))[2]
    hull = cv2.convexHull(np.asarray(landmarks, np.float32)[GROUPS["mouth_outer"]])[:, 0]
    return _rasterise(hull, shape, cfg.mouth_dilate * iod, cfg.feather * iod)


def clip_mouth_region(mouth_masks: np.ndarray, grow_px: float) -> np.ndarray:
    """One mask `[T, H, W]` for a whole clip: the union over time of its per-frame mouth masks
    `[T, H, W]` (aligned crops), grown by `grow_px` and feathered.

    Speech-independent within the clip (every frame gets the same region), so a composite over
    it does not trace the original lips' contour frame by frame (no lip-shape leakage); the
    growth leaves room for a mouth that opens wider than the original's widest.
    """
    union = (np.asarray(mouth_masks, np.float32).max(axis=0) > 0.5).astype(np.uint8)
    radius = max(round(grow_px), 1)
    grown = grow(union, radius).astype(np.float32)
    soft = cv2.GaussianBlur(grown, (0, 0), sigmaX=radius / 2.0)
    region = np.clip(np.maximum(soft, grown * (soft > 0.5)), 0.0, 1.0)
    return np.repeat(region[None], len(mouth_masks), axis=0)


def lower_face_masks(landmarks: np.ndarray, shape: tuple[int, int], cfg: MaskConfig) -> np.ndarray:
    """Masks `[T, H, W]` for a (smoothed) landmark sequence `[T, 68, 2]`."""
    return np.stack([lower_face_mask(lm, shape, cfg) for lm in landmarks])
