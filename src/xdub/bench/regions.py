"""Per-frame evaluation regions cut from the synthetic ground truth, at full-frame resolution.

Given a clip's truth (speech-free mouth zone `[T, H, W]`, occluder mask `[T, H, W]`, face boxes
`[T, 4]`) and `RegionConfig`, with `r = mouth_dilate * face_h`, `m = outside_margin * face_h`
(face_h = median face-box height, pixels) and D_k = dilation by a (2k+1)-square:

- mouth      = D_r(zone_t): where a dub may legitimately change pixels;
- outside    = not D_{r+m}(zone_t): everything a dub must leave alone (a margin away from the
               mouth so soft blending edges are not counted twice);
- occluder   = occluder_t: hands/mics/objects, which must stay in front of the new mouth;
- occluder_mouth = occluder_t and mouth: the occluder pixels where a dub is most tempted to
               paint a mouth over the hand;
- mouth_visible_t = #(zone_t and not occluder_t) / #zone_t > 1 - max_occlusion (frames [T]).
Also `face_crops` (square crops around the face boxes, for identity models) and `mouth_boxes`
(for the report's mouth close-ups). Imports: numpy, cv2, xdub.config.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from xdub.config.bench import RegionConfig


@dataclass(frozen=True)
class RegionMasks:
    """Boolean masks `[T, H, W]` per region, plus `mouth_visible: [T]` and the raw zone."""

    zone: np.ndarray  # the engine's speech-free mouth zone (undilated)
    mouth: np.ndarray
    outside: np.ndarray
    occluder: np.ndarray
    occluder_mouth: np.ndarray
    mouth_visible: np.ndarray

    def named(self) -> dict[str, np.ndarray]:
        """The pixel regions scored by the benchmark, by name."""
        return {
            "mouth": self.mouth,
            "outside": self.outside,
            "occluder": self.occluder,
            "occluder_mouth": self.occluder_mouth,
        }


def dilate(masks: np.ndarray, radius: int) -> np.ndarray:
    """Dilate each `[H, W]` of bool `masks: [T, H, W]` by a (2 radius + 1) square."""
    if radius <= 0:
        return masks.copy()
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return np.stack([cv2.dilate(m.astype(np.uint8), kernel) > 0 for m in masks])


def face_height(face_boxes: np.ndarray) -> float:
    """Median face-box height in pixels of boxes `[T, 4]` (x0, y0, x1, y1)."""
    assert face_boxes.ndim == 2 and face_boxes.shape[1] == 4, "face_boxes must be [T, 4]"
    return float(np.median(face_boxes[:, 3] - face_boxes[:, 1]))


def build_regions(
    zone: np.ndarray, occluder: np.ndarray, face_boxes: np.ndarray, cfg: RegionConfig
) -> RegionMasks:
    """Regions from zone/occluder masks `[T, H, W]` bool and face boxes `[T, 4]`."""
    assert zone.ndim == 3 and zone.shape == occluder.shape, "zone/occluder must both be [T, H, W]"
    assert len(face_boxes) == len(zone), "one face box per frame"
    zone, occluder = zone.astype(bool), occluder.astype(bool)
    face_h = face_height(face_boxes)
    grow = round(cfg.mouth_dilate * face_h)
    margin = round(cfg.outside_margin * face_h)
    mouth = dilate(zone, grow)
    outside = ~dilate(zone, grow + margin)
    zone_px = zone.sum(axis=(1, 2))
    hidden_px = (zone & occluder).sum(axis=(1, 2))
    visible = (zone_px > 0) & (hidden_px <= cfg.max_occlusion * np.maximum(zone_px, 1))
    return RegionMasks(
        zone=zone,
        mouth=mouth,
        outside=outside,
        occluder=occluder,
        occluder_mouth=occluder & mouth,
        mouth_visible=visible,
    )


def regions_from_truth(truth: object, cfg: RegionConfig) -> RegionMasks:
    """Regions of a synth `ClipTruth` (duck-typed: mouth_mask, occluder_mask, face_box)."""
    return build_regions(
        truth.mouth_mask,
        truth.occluder_mask,  # type: ignore[attr-defined]
        truth.face_box,
        cfg,
    )  # type: ignore[attr-defined]


def _square_box(
    box: np.ndarray, scale: float, width: int, height: int
) -> tuple[int, int, int, int]:
    """Integer square (x0, y0, x1, y1) of side scale * max(box w, h) about the box centre."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = max(1.0, scale * max(box[2] - box[0], box[3] - box[1]) / 2)
    x0, y0 = int(np.floor(cx - half)), int(np.floor(cy - half))
    side = int(np.ceil(2 * half))
    x0, y0 = min(max(x0, 0), max(width - side, 0)), min(max(y0, 0), max(height - side, 0))
    return x0, y0, min(x0 + side, width), min(y0 + side, height)


def face_crops(
    frames: np.ndarray, face_boxes: np.ndarray, size: int = 112, scale: float = 1.2
) -> np.ndarray:
    """Square face crops: frames `[T, H, W, 3]` + boxes `[T, 4]` -> `[T, size, size, 3]` uint8."""
    _, height, width, _ = frames.shape
    out = np.empty((len(frames), size, size, 3), np.uint8)
    for t, (frame, box) in enumerate(zip(frames, face_boxes)):
        x0, y0, x1, y1 = _square_box(box, scale, width, height)
        out[t] = cv2.resize(frame[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)
    return out


def mouth_boxes(zone: np.ndarray, pad: float = 0.25) -> np.ndarray:
    """Per-frame int box `[T, 4]` (x0, y0, x1, y1) around the zone, grown by `pad` per side."""
    _, height, width = zone.shape
    out = np.zeros((len(zone), 4), np.int64)
    for t, mask in enumerate(zone):
        ys, xs = np.nonzero(mask)
        if not len(ys):
            out[t] = (0, 0, width, height)
            continue
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        px, py = int((x1 - x0) * pad), int((y1 - y0) * pad)
        out[t] = (max(x0 - px, 0), max(y0 - py, 0), min(x1 + px, width), min(y1 + py, height))
    return out
