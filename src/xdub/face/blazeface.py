"""BlazeFace (MediaPipe face detector) pre/post-processing around the bundled .tflite model.

Written for xdub from the model's documented I/O: the input is the frame letterboxed into a
square, resized to the model size and scaled to [-1, 1]; the outputs are per-anchor regressors
`[N, 16]` = (cx, cy, w, h, 6 keypoints x/y) in input pixels relative to SSD anchor centres, and
logits `[N, 1]`. Keypoints: 0/1 the two eyes, 2 nose tip, 3 mouth centre, 4/5 ear tragions.
Overlapping boxes are merged by score-weighted NMS, as MediaPipe does. Imports: numpy, cv2.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from xdub.face.litert import TFLiteModel

# SSD anchor layouts (MediaPipe face_detection_*_common graphs): strides per output layer, and
# whether each cell has two anchors per layer ("interpolated scale" 1.0) or one.
_ANCHOR_SPECS = {
    "short": ((8, 16, 16, 16), 2),
    "full": ((4,), 1),
}
_LOGIT_CLIP = 80.0  # sigmoid of larger magnitudes overflows float32 exp


@dataclass(frozen=True)
class RawFaces:
    """Detections in frame pixels: `boxes: [F, 4]` xyxy, `scores: [F]`, `keypoints: [F, 6, 2]`."""

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray


def ssd_anchors(input_size: int, strides: tuple[int, ...], per_layer: int) -> np.ndarray:
    """Anchor centres `[N, 2]` in [0, 1]; consecutive layers of equal stride share one grid."""
    centres: list[np.ndarray] = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        cells = input_size // strides[i]
        grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        cell_xy = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cell_xy, per_layer * (j - i), axis=0))
        i = j
    return np.concatenate(centres, axis=0)


def _box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box `[4]` against `boxes: [N, 4]` -> `[N]`."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray, iou_threshold: float
) -> RawFaces:
    """Merge overlapping candidates: each cluster becomes its score-weighted mean box/keypoints."""
    order = np.argsort(-scores)
    boxes, scores, keypoints = boxes[order], scores[order], keypoints[order]
    alive = np.ones(len(scores), dtype=bool)
    out_boxes, out_scores, out_kps = [], [], []
    for i in range(len(scores)):
        if not alive[i]:
            continue
        cluster = alive & (_box_iou(boxes[i], boxes) > iou_threshold)
        cluster[i] = True
        weights = scores[cluster] / scores[cluster].sum()
        out_boxes.append((boxes[cluster] * weights[:, None]).sum(0))
        out_kps.append((keypoints[cluster] * weights[:, None, None]).sum(0))
        out_scores.append(scores[i])
        alive &= ~cluster
    if not out_scores:
        return RawFaces(np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                        np.zeros((0, 6, 2), np.float32))
    return RawFaces(np.stack(out_boxes), np.asarray(out_scores, np.float32), np.stack(out_kps))


class BlazeFace:
    """BlazeFace detector: `detect(frame RGB uint8 [H, W, 3]) -> RawFaces` in frame pixels."""

    def __init__(self, model: str = "short", min_score: float = 0.5, nms_iou: float = 0.3,
                 num_threads: int = 1) -> None:
        self.net = TFLiteModel(model, num_threads=num_threads)
        self.size = self.net.input_hw[0]
        strides, per_layer = _ANCHOR_SPECS[model]
        self.anchors = ssd_anchors(self.size, strides, per_layer)
        self.min_score = min_score
        self.nms_iou = nms_iou

    def _letterbox(self, frame: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """Frame -> model input `[S, S, 3]` in [-1, 1], plus (scale, pad_x, pad_y) to undo it."""
        h, w = frame.shape[:2]
        scale = self.size / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        resized = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)
        pad_x, pad_y = (self.size - nw) // 2, (self.size - nh) // 2
        canvas = np.zeros((self.size, self.size, 3), np.float32)
        canvas[pad_y:pad_y + nh, pad_x:pad_x + nw] = resized.astype(np.float32) / 127.5 - 1.0
        return canvas, scale, float(pad_x), float(pad_y)

    def detect(self, frame: np.ndarray, min_score: float | None = None) -> RawFaces:
        """Faces in `frame: [H, W, 3]` uint8 RGB, merged by weighted NMS, best score first;
        `min_score` overrides the detector's threshold for this call."""
        tensor, scale, pad_x, pad_y = self._letterbox(frame)
        outputs = self.net.run(tensor)
        # The regressor output is the one with 16 values per anchor, whatever its tensor name.
        regress = next(o for o in outputs if o.shape[-1] == 16).reshape(-1, 16)
        logits = next(o for o in outputs if o.shape[-1] == 1).reshape(-1)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -_LOGIT_CLIP, _LOGIT_CLIP)))
        keep = scores >= (self.min_score if min_score is None else min_score)
        if not keep.any():
            return weighted_nms(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 6, 2)), self.nms_iou)
        reg = regress[keep] / self.size
        anchors = self.anchors[keep]
        centre = reg[:, 0:2] + anchors
        half = reg[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        kps = reg[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        faces = weighted_nms(boxes[valid], scores[keep][valid], kps[valid], self.nms_iou)
        # Undo letterbox: model-normalised -> model pixels -> frame pixels.
        offset = np.array([pad_x, pad_y], np.float32)
        boxes_px = (faces.boxes.reshape(-1, 2, 2) * self.size - offset) / scale
        kps_px = (faces.keypoints * self.size - offset) / scale
        return RawFaces(boxes_px.reshape(-1, 4).astype(np.float32), faces.scores,
                        kps_px.astype(np.float32))
