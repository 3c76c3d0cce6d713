"""Lip-sync metrics of the benchmark: LSE-D, LSE-C and the audio-visual offset.

The offset search itself (`offset_distances`, `scores_from_distances`, `sync_scores`, ...) is
`xdub.models.sync_offsets`, re-exported here; this module adds the public-SyncNet protocol
wrapper, 25 fps resampling and the held-out evaluation of the tiny scorer.
Imports: torch, numpy, xdub.models.
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np
import torch

from xdub.models.sync_offsets import (
    PROTOCOL_MAX_OFFSET,
    ClipEmbedder,
    SyncScores,
    is_in_sync,
    offset_distances,
    scores_from_distances,
    shift_audio,
    sync_scores,
)
from xdub.models.syncnet import SyncScorer
from xdub.models.syncnet_features import log_mel, protocol_mfcc
from xdub.models.syncnet_public import PublicSyncNet, protocol_num_windows

__all__ = [
    "PROTOCOL_MAX_OFFSET", "ClipEmbedder", "EvalClip", "SyncScores", "evaluate_sync_scorer",
    "is_in_sync", "offset_distances", "protocol_sync_scores", "resample_frame_indices",
    "scores_from_distances", "shift_audio", "sync_scores",
]


class EvalClip(Protocol):
    """A held-out clip: mouth crops `[T, h, w, C]` uint8 + waveform `[N]` at 16 kHz + fps."""

    crops: np.ndarray
    samples: np.ndarray
    fps: float


def resample_frame_indices(num_frames: int, fps: float, target_fps: float = 25.0) -> np.ndarray:
    """Source frame index for each output frame when converting `fps` -> `target_fps`.

    Nearest earlier frame (as `ffmpeg -r 25` duplicates/drops frames); use it to bring any
    clip to the protocol's 25 fps: `frames[resample_frame_indices(len(frames), fps)]`.
    """
    num_out = int(np.floor(num_frames * target_fps / fps + 1e-9))
    times = np.arange(num_out) / target_fps
    return np.minimum(np.floor(times * fps + 1e-6).astype(np.int64), num_frames - 1)


# ---------------------------------------------------------------------------------------------
# Model wrappers
# ---------------------------------------------------------------------------------------------


def protocol_sync_scores(
    model: PublicSyncNet,
    face_crops: np.ndarray,
    samples: np.ndarray,
    sample_rate: int = 16000,
    max_offset: int = PROTOCOL_MAX_OFFSET,
) -> SyncScores:
    """LSE-C/LSE-D exactly as the reference: 25 fps `face_crops: [T, 224, 224, 3]` uint8 RGB
    (`syncnet_face_crops`), 16 kHz mono `samples: [N]` float in [-1, 1]."""
    mfcc = protocol_mfcc(samples, sample_rate)
    num = protocol_num_windows(len(face_crops), len(samples), sample_rate)
    model.eval()
    video_emb, audio_emb = model.clip_embeddings(face_crops, mfcc, num_windows=num)
    return scores_from_distances(offset_distances(video_emb, audio_emb, max_offset, "zero"))


# ---------------------------------------------------------------------------------------------
# Held-out evaluation of the tiny scorer
# ---------------------------------------------------------------------------------------------


def evaluate_sync_scorer(
    scorer: SyncScorer,
    clips: list[EvalClip],
    shifts: tuple[int, ...] = (-10, -5, 5, 10),
    threshold: float = 0.5,
    pad: Literal["zero", "valid"] = "zero",
) -> dict[str, float]:
    """Accuracy of `scorer` on clips that are in sync, and on the same clips with the audio
    delayed/advanced by each of `shifts` frames.

    Returns fractions: `classification_acc` (clip-mean P(sync) > threshold for in-sync,
    < threshold for shifted, over all decisions), `offset_classification_acc` (the same
    decisions made by `is_in_sync`), `ranking_acc` (in-sync P > shifted P, per
    clip and shift), `offset_exact` (in-sync offset == 0), `offset_exact_shifted` (offset ==
    -shift), plus mean LSE-C/LSE-D of in-sync and shifted clips.
    """
    scorer.eval()
    sample_rate = scorer.cfg.sample_rate
    correct, ranked, exact, exact_shifted, decided = [], [], [], [], []
    lse = {"sync_c": [], "sync_d": [], "shift_c": [], "shift_d": []}
    for clip in clips:
        crops = SyncScorer.normalize_crops(clip.crops)
        results = []
        for shift in (0, *shifts):
            audio = (
                shift_audio(clip.samples, shift, clip.fps, sample_rate) if shift else clip.samples
            )
            video_emb, audio_emb = scorer.clip_embeddings(
                crops, log_mel(audio, scorer.cfg), clip.fps
            )
            with torch.no_grad():
                prob = float(torch.sigmoid(scorer.sync_logit(video_emb, audio_emb)).mean())
            scores = scores_from_distances(
                offset_distances(video_emb, audio_emb, PROTOCOL_MAX_OFFSET, pad)
            )
            results.append((shift, prob, scores))
        _, prob_sync, sync = results[0]
        correct.append(prob_sync > threshold)
        decided.append(is_in_sync(sync))
        exact.append(sync.offset == 0)
        lse["sync_c"].append(sync.confidence)
        lse["sync_d"].append(sync.distance)
        for shift, prob, scores in results[1:]:
            correct.append(prob < threshold)
            decided.append(not is_in_sync(scores))
            ranked.append(prob_sync > prob)
            exact_shifted.append(scores.offset == -shift)
            lse["shift_c"].append(scores.confidence)
            lse["shift_d"].append(scores.distance)
    out = {
        "clips": float(len(clips)),
        "classification_acc": float(np.mean(correct)),
        "offset_classification_acc": float(np.mean(decided)),
        "ranking_acc": float(np.mean(ranked)) if ranked else float("nan"),
        "offset_exact": float(np.mean(exact)),
        "offset_exact_shifted": float(np.mean(exact_shifted)) if exact_shifted else float("nan"),
    }
    out.update({f"lse_{k}": float(np.mean(v)) if v else float("nan") for k, v in lse.items()})
    return out
