"""Lip-sync metrics: per-offset distances, LSE-D, LSE-C and the audio-visual offset.

The core is pure math over per-window embeddings (`offset_distances`, `scores_from_distances`),
following the SyncNet evaluation protocol (joonson/syncnet_python `calc_pdist` + `evaluate`):

1. embed every 5-frame video window i and the audio window at the same time;
2. for offsets o in -K..K compare video window i with audio window i - o; audio windows that
   fall outside the clip are zero vectors (the protocol pads embeddings with zeros);
3. mean over windows -> one distance per offset; LSE-D = min, LSE-C = median - min, and the
   best offset is the argmin.

Sign convention (the protocol's): offset o > 0 means video window i matches the audio of window
i - o, i.e. the audio runs o frames EARLY; audio delayed by d frames gives offset -d.
Wrappers `sync_scores` (any scorer with `clip_embeddings`) and `protocol_sync_scores` (public
SyncNet from raw face crops + waveform) sit on top. Imports: torch, numpy, xdub.models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from xdub.models.syncnet import SyncScorer
from xdub.models.syncnet_features import log_mel, protocol_mfcc
from xdub.models.syncnet_public import PublicSyncNet, protocol_num_windows

PROTOCOL_MAX_OFFSET = 15  # the protocol searches +-15 frames (0.6 s at 25 fps)


@dataclass(frozen=True)
class SyncScores:
    """Clip-level sync result. Higher confidence = better; lower distance = better."""

    confidence: float  # LSE-C: median over offsets of the mean distance, minus its minimum
    distance: float  # LSE-D: minimum over offsets of the mean distance
    offset: int  # best offset in video frames (protocol sign, see module docstring)
    mean_distances: np.ndarray  # [2K+1] mean distance per offset, offsets -K..K


class EvalClip(Protocol):
    """A held-out clip: mouth crops `[T, h, w, C]` uint8 + waveform `[N]` at 16 kHz + fps."""

    crops: np.ndarray
    samples: np.ndarray
    fps: float


class ClipEmbedder(Protocol):
    """Anything that turns a clip's crops + audio features into zero-offset window embeddings."""

    def clip_embeddings(
        self, crops: torch.Tensor, audio_features: torch.Tensor, fps: float
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


# ---------------------------------------------------------------------------------------------
# Pure core
# ---------------------------------------------------------------------------------------------


def offset_distances(
    video_emb: torch.Tensor,
    audio_emb: torch.Tensor,
    max_offset: int = PROTOCOL_MAX_OFFSET,
    pad: Literal["zero", "valid"] = "zero",
) -> torch.Tensor:
    """Distance of every video window to the audio at every offset: `[N, D]` x2 -> `[N, 2K+1]`.

    Column j is offset o = j - K: `dists[i, j] = ||video_emb[i] - audio_emb[i - o]||`.
    pad="zero": out-of-clip audio is a zero vector (the protocol); pad="valid": those entries
    are NaN, so `scores_from_distances` averages only real pairs.
    """
    assert video_emb.ndim == 2 and video_emb.shape == audio_emb.shape, (
        f"embeddings must both be [N, D], got {tuple(video_emb.shape)} and {tuple(audio_emb.shape)}"
    )
    num, k = video_emb.shape[0], max_offset
    padded = F.pad(audio_emb, (0, 0, k, k))  # row r holds audio window r - k
    # For video i and offset o the audio index is i - o, i.e. padded row i - o + k.
    rows = torch.arange(num)[:, None] - torch.arange(-k, k + 1)[None, :] + k  # [N, 2K+1]
    paired = padded[rows]  # [N, 2K+1, D]
    # pairwise_distance adds eps to the difference, exactly like the reference implementation.
    dists = F.pairwise_distance(video_emb[:, None, :].expand_as(paired), paired)
    if pad == "valid":
        source = rows - k
        dists = dists.masked_fill((source < 0) | (source >= num), float("nan"))
    return dists


def scores_from_distances(dists: torch.Tensor | np.ndarray) -> SyncScores:
    """LSE numbers from a `[N, 2K+1]` distance matrix (columns = offsets -K..K, NaN ignored)."""
    dists_np = np.asarray(dists, dtype=np.float64)
    assert dists_np.ndim == 2 and dists_np.shape[1] % 2 == 1, "dists must be [N, 2K+1]"
    k = dists_np.shape[1] // 2
    mean = np.nanmean(dists_np, axis=0)
    best = int(np.nanargmin(mean))
    minimum = float(mean[best])
    return SyncScores(
        confidence=float(np.nanmedian(mean)) - minimum,
        distance=minimum,
        offset=best - k,
        mean_distances=mean,
    )


def is_in_sync(scores: SyncScores, tolerance: int = 1, min_confidence: float = 0.0) -> bool:
    """Clip-level decision: best offset within +-`tolerance` frames and confident enough.

    This is the robust test for pseudo-pair filtering: a window-level P(sync) cannot see a
    shift inside a sustained vowel, but the offset search uses every mouth transition.
    """
    return abs(scores.offset) <= tolerance and scores.confidence >= min_confidence


def shift_audio(samples: np.ndarray, frames: int, fps: float, sample_rate: int) -> np.ndarray:
    """Delay (`frames` > 0) or advance (< 0) a waveform `[N]` by whole video frames, same length.

    The gap is filled with silence. A delay of d frames makes a synced clip score offset -d.
    """
    shift = round(frames * sample_rate / fps)
    out = np.zeros_like(samples)
    if shift >= 0:
        out[shift:] = samples[: len(samples) - shift] if shift < len(samples) else 0
    else:
        out[:shift] = samples[-shift:]
    return out


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


def sync_scores(
    scorer: ClipEmbedder,
    mouth_crops: torch.Tensor,
    audio_features: torch.Tensor,
    fps: float = 25.0,
    max_offset: int = PROTOCOL_MAX_OFFSET,
    pad: Literal["zero", "valid"] = "zero",
) -> SyncScores:
    """Score one clip with any scorer exposing `clip_embeddings`.

    For `SyncScorer`: mouth_crops `[T, C, h, w]` in [-1, 1] (`SyncScorer.normalize_crops` of
    `crop_mouths`) and audio_features `[M, n_mels]` (`log_mel`). For `PublicSyncNet`: face
    crops `[T, 224, 224, 3]` uint8 RGB and `[M, 13]` MFCC.
    """
    was_training = getattr(scorer, "training", False)
    if isinstance(scorer, torch.nn.Module):
        scorer.eval()
    try:
        video_emb, audio_emb = scorer.clip_embeddings(mouth_crops, audio_features, fps)
    finally:
        if isinstance(scorer, torch.nn.Module):
            scorer.train(was_training)
    return scores_from_distances(offset_distances(video_emb, audio_emb, max_offset, pad))


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
