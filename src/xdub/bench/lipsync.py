"""LSE-C / LSE-D of a dubbed clip with our sync scorer, cropped at ground-truth geometry.

Thin glue between the benchmark and `xdub.bench.sync_metrics` (owned by the sync scorer): the
mouth crops come from the answer's landmarks and face boxes (the same crop boxes for every
method on a pair, so methods differ only in pixels) and the audio is the new speech.
Imports: numpy, torch, xdub.models.syncnet*, xdub.bench.sync_metrics.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from xdub.errors import ConfigError, WeightsError

logger = logging.getLogger(__name__)


def load_sync_scorer(spec: str) -> Any | None:
    """ "none"/"" -> None; "auto" -> the shipped tiny scorer if installed (else None with a
    warning); anything else -> `SyncScorer.from_pretrained(spec)`."""
    if spec in ("", "none"):
        return None
    from xdub.models.syncnet import SyncScorer, load_shipped_scorer

    if spec == "auto":
        try:
            return load_shipped_scorer()
        except (WeightsError, FileNotFoundError, OSError) as err:
            logger.warning("no shipped sync scorer (%s); LSE-C/LSE-D are skipped", err)
            return None
    if not Path(spec).is_dir():
        raise ConfigError(f"sync scorer folder not found: {spec}")
    return SyncScorer.from_pretrained(spec)


def describe_scorer(spec: str, scorer: Any | None) -> str:
    """What `results.json` records about the scorer in use."""
    if scorer is None:
        return "none"
    return "shipped:syncnet_tiny" if spec == "auto" else f"dir:{Path(spec).name}"


def lip_sync_metrics(
    scorer: Any,
    frames: np.ndarray,
    landmarks: np.ndarray,
    face_boxes: np.ndarray,
    samples: np.ndarray,
    fps: float,
) -> dict[str, float]:
    """{lse_c, lse_d, lse_offset} of frames `[T, H, W, 3]` with audio `samples: [N]` (16 kHz).

    landmarks: `[T, 68, 2]` (iBUG; the mouth is 48-67), face_boxes: `[T, 4]`.
    """
    from xdub.models.syncnet_features import warp_mouth_crops

    if len(frames) < scorer.cfg.window_frames + 1:
        return lip_sync_from_crops(scorer, np.empty((0,)), samples, fps)
    affines = mouth_crop_affines(scorer.cfg, landmarks, face_boxes)
    return lip_sync_from_crops(scorer, warp_mouth_crops(frames, affines, scorer.cfg), samples, fps)


def mouth_crop_affines(cfg: Any, landmarks: np.ndarray, face_boxes: np.ndarray) -> np.ndarray:
    """`crop_affines` `[T, 2, 3]` of the scorer's mouth crops (`cfg: SyncScorerConfig`), rolled
    with the eyes; landmarks `[T, 68, 2]`, face_boxes `[T, 4]`.

    Row t depends on rows t-2..t+2 only (smoothing) and is computed by running sums, so on the
    first m rows of a clip, rows up to m-3 equal the whole clip's bit for bit: a stream can
    settle its crops two frames behind (`xdub.api.sync.SyncProbe`).
    """
    from xdub.models.syncnet_features import crop_affines, eye_roll

    roll = eye_roll(landmarks[:, 36:42].mean(1), landmarks[:, 42:48].mean(1))
    return crop_affines(landmarks[:, 48:68], face_boxes, cfg, roll=roll)


def lip_sync_from_crops(
    scorer: Any, crops: np.ndarray, samples: np.ndarray, fps: float
) -> dict[str, float]:
    """`lip_sync_metrics` from mouth crops `[T, h, w, C]` uint8 (`warp_mouth_crops`); NaN when
    the crops are shorter than one scorer window + 1."""
    from xdub.bench.sync_metrics import sync_scores
    from xdub.models.syncnet import SyncScorer
    from xdub.models.syncnet_features import log_mel

    cfg = scorer.cfg
    if len(crops) < cfg.window_frames + 1:
        return {"lse_c": float("nan"), "lse_d": float("nan"), "lse_offset": float("nan")}
    scores = sync_scores(scorer, SyncScorer.normalize_crops(crops), log_mel(samples, cfg), fps)
    return {
        "lse_c": scores.confidence,
        "lse_d": scores.distance,
        "lse_offset": float(scores.offset),
    }
