"""Real mouths for the donor audio: where stage 1 starts (`PairGenConfig.retrieval`, issue #12).

The tiny inpainter drawing lips from noise leaves broken, speckled mouths that a small
classifier tells from real ones (design 3.1, session 21). A clip already holds real lips in many
shapes. For each frame t of V driven by the donor audio A', `best_path` picks a frame s of V
whose lips the sync scorer finds most in sync with A' around t; V's own mouth region at s, put
into frame t (`PairGenerator` composites it as it composites stage 1's output), is what the
inpainter then denoises from a low noise level instead of from pure noise. This is the old
concatenative idea (Bregler et al., "Video Rewrite", 1997) used only to start stage 1.

The path is a Viterbi search over source frames: the score of a frame is its lips-to-audio
similarity, and sources fewer than `min_gap` frames from their frame are out (V's own lips
there would be the answer: a pair that rewards copying); a step to the next source frame is
free (the real motion plays on), showing the same frame again costs `hold_cost`, any other
cut `jump_cost`, and a source far in time from its frame costs `distance_cost` per clip length
(light and pose drift within a clip).
The retrieved crops are whole crops of other frames; the caller composites them into V once,
as it composites stage 1's output.
With `match_light` each retrieved crop is scaled per channel by the ratio of its frame's light
to its source frame's (`relit`), measured on the same skin ring around the composite region
(the crops are aligned, so the ring lies on the same skin in both).
Imports: numpy, xdub.{config, face}.
"""

from __future__ import annotations

import numpy as np

from xdub.config.train import MouthRetrievalConfig
from xdub.face.mask import outside_ring

RING_PX = 3  # width of the skin ring around the composite region that measures the light


def frame_similarity(video_emb: np.ndarray, audio_emb: np.ndarray, num_frames: int,
                     window: int) -> np.ndarray:
    """`[T, T]` cosine: row t = the donor audio around frame t, column s = the lips around
    frame s. `video_emb`, `audio_emb`: `[T - window + 1, D]` unit rows of the sync scorer's
    windows (row i = frames i .. i + window - 1, `SyncScorer.clip_embeddings`); a frame takes
    the window centred on it, clamped at the clip's ends."""
    rows = len(video_emb)
    assert rows == len(audio_emb) and rows == num_frames - window + 1, "one window per start"
    centre = np.clip(np.arange(num_frames) - window // 2, 0, rows - 1)
    return (audio_emb[centre] @ video_emb[centre].T).astype(np.float64)


def best_path(similarity: np.ndarray, cfg: MouthRetrievalConfig,
              allowed: np.ndarray | None = None) -> np.ndarray:
    """Source frame `[T]` int for every frame t maximising the summed `similarity: [T, S]`
    less the path costs of the module docstring; `allowed: [S]` bool leaves frames out (e.g.
    a hand over the mouth). A frame with no allowed source `cfg.min_gap` away takes the
    farthest allowed one; with none allowed at all, every frame is."""
    num, sources = similarity.shape
    allowed = np.ones(sources, bool) if allowed is None or not allowed.any() else allowed
    gap = np.abs(np.arange(num)[:, None] - np.arange(sources)[None])
    usable = allowed[None] & (gap >= cfg.min_gap)
    for t in np.flatnonzero(~usable.any(axis=1)):  # short clips: the farthest allowed source
        usable[t, np.argmax(np.where(allowed, gap[t], -1))] = True
    gain = similarity - cfg.distance_cost * gap / max(sources - 1, 1)
    gain[~usable] = -np.inf
    # step[p, s]: cost of going from source p to source s.
    step = np.full((sources, sources), cfg.jump_cost)
    step[np.arange(sources), np.arange(sources)] = cfg.hold_cost
    step[np.arange(sources - 1), np.arange(1, sources)] = 0.0
    total = gain[0].copy()
    back = np.zeros((num, sources), dtype=np.int64)
    for t in range(1, num):
        candidates = total[:, None] - step  # [from, to]
        back[t] = np.argmax(candidates, axis=0)
        total = candidates[back[t], np.arange(sources)] + gain[t]
    path = np.empty(num, dtype=np.int64)
    path[-1] = int(np.argmax(total))
    for t in range(num - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def relit(crops: np.ndarray, path: np.ndarray, region: np.ndarray) -> np.ndarray:
    """`crops[path]` (`[T, S, S, 3]` uint8) with each frame scaled per channel to the light of
    frame t of `crops`: the ratio of the two frames' mean colour on a `RING_PX` ring just
    outside `region: [T, S, S]` (in [0, 1]), clamped to [0.5, 2]."""
    out = np.empty_like(crops)
    for t, s in enumerate(path):
        ring = outside_ring(region[t], RING_PX)
        if not ring.any():
            out[t] = crops[s]
            continue
        own = crops[t][ring].astype(np.float64).mean(axis=0)
        theirs = crops[s][ring].astype(np.float64).mean(axis=0)
        gain = np.clip((own + 1.0) / (theirs + 1.0), 0.5, 2.0)
        out[t] = np.clip(np.rint(crops[s] * gain), 0, 255).astype(np.uint8)
    return out
