"""Audio-visual offset search with a sync scorer: per-offset distances, LSE-D, LSE-C, offset.

Pure math over per-window embeddings (`offset_distances`, `scores_from_distances`), following
the SyncNet evaluation protocol (joonson/syncnet_python `calc_pdist` + `evaluate`):

1. embed every 5-frame video window i and the audio window at the same time;
2. for offsets o in -K..K compare video window i with audio window i - o; audio windows that
   fall outside the clip are zero vectors (the protocol pads embeddings with zeros);
3. mean over windows -> one distance per offset; LSE-D = min, LSE-C = median - min, and the
   best offset is the argmin.

Sign convention (the protocol's): offset o > 0 means video window i matches the audio of window
i - o, i.e. the audio runs o frames EARLY; audio delayed by d frames gives offset -d.
`sync_scores` runs any scorer with `clip_embeddings` through it. It sits with the scorer (not in
`xdub.bench`) because data preparation corrects offsets with the very same search the
benchmark reports. Imports: numpy, torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import torch
import torch.nn.functional as F

PROTOCOL_MAX_OFFSET = 15  # the protocol searches +-15 frames (0.6 s at 25 fps)


@dataclass(frozen=True)
class SyncScores:
    """Clip-level sync result. Higher confidence = better; lower distance = better."""

    confidence: float  # LSE-C: median over offsets of the mean distance, minus its minimum
    distance: float  # LSE-D: minimum over offsets of the mean distance
    offset: int  # best offset in video frames (protocol sign, see module docstring)
    mean_distances: np.ndarray  # [2K+1] mean distance per offset, offsets -K..K


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
