"""Step 6: image-quality scores of a clip and the rules on them.

Scores (medians over sampled frames, so a single bad frame does not decide):
- sharpness: variance of the Laplacian of the grey aligned crop (what the model will see),
  resized to `ANALYSIS_SIDE` first so one threshold means the same at 96 px and 512 px crops;
- brightness: mean luma 0..255 of the crop; clipped: fraction of crop pixels at 0 or 255;
- blockiness: mean absolute luma step across the 8-px grid of the SOURCE frame inside the face
  box, over the mean step elsewhere: ~1 for clean video, higher when codec blocks show. It is
  measured on the source frame because the crop's warp moves the codec grid.
Imports: numpy, cv2, xdub.config, xdub.data.prepare.
"""

from __future__ import annotations

import cv2
import numpy as np

from xdub.config.prepare import QualityRules
from xdub.data.prepare.reasons import Rejected

SAMPLE_EVERY = 5  # frames between quality samples (0.2 s at 25 fps)
ANALYSIS_SIDE = 128  # px, crop side at which sharpness is measured


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def crop_scores(crop: np.ndarray) -> tuple[float, float, float]:
    """(sharpness, brightness, clipped) of one aligned crop `[S, S, 3]` uint8."""
    grey = _grey(crop)
    interpolation = cv2.INTER_AREA if grey.shape[0] > ANALYSIS_SIDE else cv2.INTER_LINEAR
    small = cv2.resize(grey, (ANALYSIS_SIDE, ANALYSIS_SIDE), interpolation=interpolation)
    sharpness = float(cv2.Laplacian(small, cv2.CV_64F).var())
    clipped = float(((grey <= 0) | (grey >= 255)).mean())
    return sharpness, float(grey.mean()), clipped


def blockiness(frame: np.ndarray, box: np.ndarray) -> float:
    """Grid-step / off-grid-step ratio of the luma inside `box` (xyxy) of a source frame."""
    h, w = frame.shape[:2]
    x0, y0 = max(int(box[0]) // 8 * 8, 0), max(int(box[1]) // 8 * 8, 0)
    x1, y1 = min(int(np.ceil(box[2])), w), min(int(np.ceil(box[3])), h)
    if x1 - x0 < 24 or y1 - y0 < 24:
        return 1.0
    grey = _grey(frame[y0:y1, x0:x1]).astype(np.float32)
    steps = np.abs(np.diff(grey, axis=1)).mean(0)  # step between columns c and c + 1
    on_grid = (np.arange(len(steps)) % 8) == 7  # between columns 8k + 7 and 8k + 8
    off = float(steps[~on_grid].mean())
    return float(steps[on_grid].mean()) / max(off, 1e-3)


def quality_scores(samples: list[tuple[float, float, float]], blocks: list[float]) -> dict:
    """Clip-level scores (medians) from per-frame `crop_scores` and `blockiness` samples."""
    arr = np.asarray(samples, np.float64).reshape(-1, 3)
    return {"sharpness": float(np.median(arr[:, 0])), "brightness": float(np.median(arr[:, 1])),
            "clipped": float(np.median(arr[:, 2])),
            "blockiness": float(np.median(blocks)) if blocks else 1.0}


def check_quality(scores: dict, rules: QualityRules) -> None:
    """Rejected with the first quality rule that `scores` break (in config order)."""
    if scores["sharpness"] < rules.min_sharpness:
        raise Rejected("blurry", f"sharpness {scores['sharpness']:.1f} < {rules.min_sharpness}")
    if scores["brightness"] < rules.min_brightness:
        raise Rejected("dark", f"brightness {scores['brightness']:.0f} < {rules.min_brightness}")
    if scores["brightness"] > rules.max_brightness:
        raise Rejected("overexposed",
                       f"brightness {scores['brightness']:.0f} > {rules.max_brightness}")
    if scores["clipped"] > rules.max_clipped:
        raise Rejected("clipped_exposure", f"{scores['clipped']:.0%} of pixels clipped")
    if scores["blockiness"] > rules.max_blockiness:
        raise Rejected("blocky", f"blockiness {scores['blockiness']:.2f} > {rules.max_blockiness}")
