"""MediaPipe Face Mesh (468 landmarks) on a rotated square region of interest.

Written for xdub from the model's documented I/O: input is a 192x192 RGB crop in [0, 1] of a
square ROI around the face, rotated so the eyes are level; outputs are 468 (x, y, z) points in
crop pixels and one face-presence logit. The ROI comes either from a BlazeFace detection (box
scaled 1.5x, eye keypoints give the roll) or, when tracking, from the previous frame's mesh
(its bounding box in the eye-levelled frame, scaled 1.5x), which skips detection entirely.
Imports: numpy, cv2.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from xdub.face.litert import TFLiteModel

ROI_SCALE = 1.5  # ROI side = 1.5 x face box side: the mesh model was trained on such crops
MESH_LEFT_EYE_OUTER, MESH_RIGHT_EYE_OUTER = 33, 263  # image-left / image-right eye corners


@dataclass(frozen=True)
class Roi:
    """A rotated square in frame pixels: centre (x, y), side length, roll angle (radians)."""

    cx: float
    cy: float
    size: float
    angle: float

    def to_crop(self, crop: int) -> np.ndarray:
        """2x3 affine mapping frame pixels into a `crop`x`crop` eye-levelled patch."""
        s = crop / self.size
        c, si = np.cos(self.angle), np.sin(self.angle)
        # Rotate by -angle about the ROI centre, scale, then move the centre to the crop centre.
        rot = np.array([[c, si], [-si, c]]) * s
        shift = np.array([crop / 2, crop / 2]) - rot @ np.array([self.cx, self.cy])
        return np.concatenate([rot, shift[:, None]], axis=1).astype(np.float64)


def roi_from_box(box: np.ndarray, left_eye: np.ndarray, right_eye: np.ndarray) -> Roi:
    """ROI from a detector box `[4]` xyxy and the image-left/right eye keypoints `[2]`."""
    angle = float(np.arctan2(right_eye[1] - left_eye[1], right_eye[0] - left_eye[0]))
    side = max(box[2] - box[0], box[3] - box[1]) * ROI_SCALE
    return Roi(float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2, float(side), angle)


def roi_from_mesh(mesh: np.ndarray) -> Roi:
    """ROI that frames a previous mesh `[468, 2]` (its eye-levelled bounding square, 1.5x)."""
    eye_l, eye_r = mesh[MESH_LEFT_EYE_OUTER], mesh[MESH_RIGHT_EYE_OUTER]
    angle = float(np.arctan2(eye_r[1] - eye_l[1], eye_r[0] - eye_l[0]))
    c, s = np.cos(angle), np.sin(angle)
    upright = mesh @ np.array([[c, -s], [s, c]])  # rotate points by -angle
    lo, hi = upright.min(0), upright.max(0)
    centre_upright = (lo + hi) / 2
    centre = centre_upright @ np.array([[c, s], [-s, c]])  # rotate back by +angle
    side = float(max(hi - lo)) * ROI_SCALE
    return Roi(float(centre[0]), float(centre[1]), side, angle)


def invert_affine(affine: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine."""
    return cv2.invertAffineTransform(np.asarray(affine, np.float64))


class FaceMesh:
    """Face Mesh model: `run(frame, roi) -> (mesh [468, 2] frame pixels, presence score)`."""

    def __init__(self, num_threads: int = 1) -> None:
        self.net = TFLiteModel("mesh", num_threads=num_threads)
        self.size = self.net.input_hw[0]

    def run(self, frame: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
        """Mesh of the face in `roi` of `frame: [H, W, 3]` uint8 RGB, and its presence score."""
        affine = roi.to_crop(self.size)
        patch = cv2.warpAffine(frame, affine, (self.size, self.size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        outputs = self.net.run(patch.astype(np.float32) / 255.0)
        points = next(o for o in outputs if o.size >= 468 * 3).reshape(-1, 3)[:468, :2]
        logit = float(next(o for o in outputs if o.size == 1).reshape(-1)[0])
        score = 1.0 / (1.0 + np.exp(-np.clip(logit, -80.0, 80.0)))
        back = invert_affine(affine)
        mesh = points.astype(np.float64) @ back[:, :2].T + back[:, 2]
        return mesh.astype(np.float32), float(score)
