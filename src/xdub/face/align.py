"""Similarity alignment of a face to a canonical square crop, its exact inverse, and smoothing.

An alignment is a 2x3 affine `A` mapping FRAME pixels to CROP pixels (`crop = A @ [x, y, 1]`),
restricted to rotation + uniform scale + shift so faces are never sheared. The canonical crop
places `MEAN_SHAPE` (face units: eye midpoint at 0, inter-ocular distance 1) so that the crop
side spans `cfg.extent` IODs and its centre lies `cfg.center_y` IODs below the eyes: the lower
face and chin stay well inside. Over time we smooth the crop's centre, log-scale and angle (not
raw landmarks): the crop is what the model sees, so that is what must not shimmer.
Imports: numpy, cv2, xdub.config, xdub.face.
"""

from __future__ import annotations

import cv2
import numpy as np

from xdub.config.face import AlignConfig
from xdub.face.landmarks import MEAN_SHAPE, keypoints, similarity_fit, transform_points
from xdub.face.smooth import one_euro

INTERPOLATION = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC,
                 "lanczos": cv2.INTER_LANCZOS4}


def _placed(face_units: np.ndarray, crop_size: int, cfg: AlignConfig) -> np.ndarray:
    """Points in face units (`MEAN_SHAPE`'s frame) -> crop pixels of the canonical crop."""
    centred = (face_units.astype(np.float64) - np.array([0.0, cfg.center_y])) / cfg.extent + 0.5
    return centred * crop_size


def template_keypoints(crop_size: int, cfg: AlignConfig) -> np.ndarray:
    """Canonical positions `[6, 2]` (KEYPOINT_NAMES order) of the semantic points in the crop."""
    return _placed(keypoints(MEAN_SHAPE), crop_size, cfg)


def template_landmarks(crop_size: int, cfg: AlignConfig) -> np.ndarray:
    """Where the mean face's 68 landmarks `[68, 2]` sit in the canonical crop (the placement
    `template_keypoints` gives its keypoints)."""
    return _placed(MEAN_SHAPE, crop_size, cfg)


def estimate_alignment(landmarks: np.ndarray, crop_size: int, cfg: AlignConfig) -> np.ndarray:
    """Frame->crop affine `[2, 3]` from `landmarks: [68, 2]` (xdub-68) or keypoints `[6, 2]`.

    Least-squares similarity fit of eye centres and nose tip (and, down-weighted, mouth corners:
    they move while speaking) to `template_keypoints`. The chin is never used: the jaw opens.
    """
    points = keypoints(np.asarray(landmarks, np.float64))
    template = template_keypoints(crop_size, cfg)
    use = [0, 1, 2, 3, 4] if cfg.use_mouth else [0, 1, 2]
    weights = np.array([1.0, 1.0, 1.0, cfg.mouth_weight, cfg.mouth_weight])[: len(use)]
    return similarity_fit(points[use], template[use], weights)


def affine_to_params(affine: np.ndarray, crop_size: int) -> np.ndarray:
    """Frame->crop similarity `[2, 3]` -> `[4]`: crop centre (cx, cy) in frame, log scale, angle."""
    a, b = float(affine[0, 0]), float(affine[1, 0])
    scale, angle = np.hypot(a, b), np.arctan2(b, a)
    centre = transform_points(np.array([crop_size / 2, crop_size / 2]), invert(affine))
    return np.array([centre[0], centre[1], np.log(scale), angle], np.float64)


def params_to_affine(params: np.ndarray, crop_size: int) -> np.ndarray:
    """Inverse of `affine_to_params`: `[4]` -> frame->crop affine `[2, 3]`."""
    cx, cy, log_scale, angle = (float(v) for v in params)
    s = np.exp(log_scale)
    rot = s * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shift = np.array([crop_size / 2, crop_size / 2]) - rot @ np.array([cx, cy])
    return np.concatenate([rot, shift[:, None]], axis=1)


def smooth_alignments(affines: np.ndarray, crop_size: int, cfg: AlignConfig,
                      fps: float = 25.0) -> np.ndarray:
    """One-Euro smoothing (zero phase) of crop centre/scale/angle over `affines: [T, 2, 3]`."""
    params = np.stack([affine_to_params(a, crop_size) for a in affines])
    params[:, 3] = np.unwrap(params[:, 3])
    # Centre speeds are measured in IODs: IOD (frame px) = crop_size / (scale * extent).
    iod_px = crop_size / (np.exp(params[:, 2]) * cfg.extent)
    smooth = params.copy()
    smooth[:, :2] = one_euro(params[:, :2], fps, cfg.min_cutoff, cfg.beta, scale=iod_px)
    smooth[:, 2:] = one_euro(params[:, 2:], fps, cfg.min_cutoff, cfg.beta, scale=1.0)
    return np.stack([params_to_affine(p, crop_size) for p in smooth])


def estimate_alignments(landmarks: np.ndarray, crop_size: int, cfg: AlignConfig,
                        fps: float = 25.0) -> np.ndarray:
    """Per-frame affines `[T, 2, 3]` for `landmarks: [T, 68, 2]`, smoothed if `cfg.smooth`."""
    affines = np.stack([estimate_alignment(lm, crop_size, cfg) for lm in landmarks])
    if cfg.smooth and len(affines) > 2:
        affines = smooth_alignments(affines, crop_size, cfg, fps)
    return affines


def invert(affine: np.ndarray) -> np.ndarray:
    """Exact inverse of a 2x3 affine (crop->frame from frame->crop)."""
    return cv2.invertAffineTransform(np.asarray(affine, np.float64))


def warp_to_crop(frame: np.ndarray, affine: np.ndarray, size: int,
                 interpolation: str = "cubic") -> np.ndarray:
    """Face crop `[size, size, C]` from `frame: [H, W, C]`; outside the frame repeats the edge."""
    return cv2.warpAffine(frame, np.asarray(affine, np.float64), (size, size),
                          flags=INTERPOLATION[interpolation], borderMode=cv2.BORDER_REPLICATE)


def crop_footprint(affine: np.ndarray, crop_size: int,
                   frame_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Frame rectangle (x0, y0, x1, y1), clipped to the frame, that the crop covers."""
    corners = np.array([[0, 0], [crop_size, 0], [0, crop_size], [crop_size, crop_size]], float)
    pts = transform_points(corners, invert(affine))
    h, w = frame_shape[:2]
    x0, y0 = np.floor(pts.min(0)).astype(int) - 2
    x1, y1 = np.ceil(pts.max(0)).astype(int) + 2
    return max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h)


def warp_from_crop(crop: np.ndarray, affine: np.ndarray, frame_shape: tuple[int, ...],
                   interpolation: str = "cubic",
                   region: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Inverse warp of `crop: [S, S, ...]` into frame space (0 outside the crop).

    Returns `[H, W, ...]`, or only the `region` (x0, y0, x1, y1) of it: paste-back warps just the
    face's footprint, which keeps 1080p/4K frames cheap.
    """
    x0, y0, x1, y1 = region if region is not None else (0, 0, frame_shape[1], frame_shape[0])
    # Shift the frame->crop map so region pixel (0, 0) is frame pixel (x0, y0).
    shifted = np.asarray(affine, np.float64).copy()
    shifted[:, 2] += shifted[:, :2] @ np.array([x0, y0], np.float64)
    return cv2.warpAffine(crop, shifted, (x1 - x0, y1 - y0),
                          flags=INTERPOLATION[interpolation] | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
